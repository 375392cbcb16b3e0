// The five kinds. Adding a kind or an action is an edit here (and, for a kind, its plugin's
// three lines in Plugins/ and Package.swift's `corePlugins`); the API, the tools and the tests
// follow. SPEC.md §2, §3 and §5 are the contract these descriptions fill in.

extension EntityKind {
    public static let notes = EntityKind(
        name: "notes", singular: "note",
        pluginDescription: "Notes: list, read, write, pin and archive the user's notes.",
        fields: [
            EntityField("title", .string, "The note's title.", requiredOnCreate: true),
            EntityField("content", .string, "The note's text (Markdown welcome)."),
            EntityField("tags", .array(of: .string), "Labels for the note."),
        ],
        filters: [ListFilter("status", .status)],
        filterArguments: [EntityField("status", .string, "Only notes with this status (active, archived).")],
        actions: [
            ProcessAction("pin", sets: ["pinned": true]),
            ProcessAction("unpin", sets: ["pinned": false]),
            ProcessAction("archive", sets: ["status": "archived"]),
            ProcessAction("unarchive", sets: ["status": "active"]),
        ])

    public static let tasks = EntityKind(
        name: "tasks", singular: "task",
        pluginDescription: "Tasks: track to-dos with status, due dates and priorities.",
        fields: [
            EntityField("title", .string, "What needs doing.", requiredOnCreate: true),
            EntityField("description", .string, "Details."),
            EntityField("status", .string, "open, in_progress or completed."),
            EntityField("due_date", key: "dueDate", .string, "Due date, RFC 3339 or YYYY-MM-DD."),
            EntityField("priority", .string, "low, medium or high."),
            EntityField("tags", .array(of: .string), "Labels for the task."),
            EntityField("parent_uid", key: "parentUid", .string, "uid of a parent task."),
        ],
        filters: [ListFilter("status", .status)],
        filterArguments: [EntityField("status", .string, "Only tasks with this status.")],
        actions: [
            ProcessAction("start", sets: ["status": "in_progress", "done": false]),
            ProcessAction("complete", sets: ["status": "completed", "done": true]),
            ProcessAction("reopen", sets: ["status": "open", "done": false]),
        ])

    private static let commentParent = ParentRule(
        uidKey: "parentUid", typeKey: "parentType", kinds: [("note", "notes"), ("task", "tasks")])

    public static let comments = EntityKind(
        name: "comments", singular: "comment",
        pluginDescription: "Comments on notes and tasks.",
        fields: [
            EntityField("content", .string, "The comment's text.", requiredOnCreate: true),
            EntityField(
                "parent_type", key: "parentType", .oneOf(commentParent.types), "What the comment is on.",
                requiredOnCreate: true),
            EntityField("parent_uid", key: "parentUid", .string, "uid of that note or task.", requiredOnCreate: true),
        ],
        filters: [
            ListFilter("status", .status),
            ListFilter("parentUid", .parentUID),
            ListFilter("parentType", .parentType),
        ],
        filterArguments: [
            EntityField("parent_type", key: "parentType", .oneOf(commentParent.types)),
            EntityField("parent_uid", key: "parentUid", .string, "Only comments on this item."),
        ],
        actions: [
            ProcessAction("resolve", sets: ["status": "resolved"]),
            ProcessAction("reopen", sets: ["status": "open"]),
        ],
        parent: commentParent)

    public static let chats = EntityKind(
        name: "chats", singular: "chat",
        pluginDescription: "Chats: conversations that hold chat messages.",
        fields: [
            EntityField("title", .string, "The conversation's title."),
            EntityField("description", .string, "What it is about."),
        ],
        filters: [ListFilter("status", .status)],
        actions: [
            ProcessAction("resolve", sets: ["status": "resolved"]),
            ProcessAction("reopen", sets: ["status": "active"]),
        ])

    public static let chatMessages = EntityKind(
        name: "chat_messages", singular: "chat_message",
        pluginDescription: "Chat messages: the messages of a chat.",
        fields: [
            EntityField("chat_uid", key: "chatUid", .string, "uid of the chat it belongs to.", requiredOnCreate: true),
            EntityField("content", .string, "The message text.", requiredOnCreate: true),
            EntityField("role", .oneOf(["user", "assistant", "system"]), "Who wrote it."),
        ],
        filters: [
            ListFilter("status", .status),
            ListFilter("chatUid", .parentUID),
        ],
        filterArguments: [EntityField("chat_uid", key: "chatUid", .string, "Only messages of this chat.")],
        actions: [
            ProcessAction("mark_read", sets: ["read": true]),
            ProcessAction("mark_delivered", sets: ["delivered": true]),
        ],
        parent: ParentRule(uidKey: "chatUid", typeKey: nil, kinds: [("chat", "chats")]))
}
