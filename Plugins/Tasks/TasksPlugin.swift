import PluginKit

private let export = PluginExport(
    EntityToolset(
        plural: "tasks", singular: "task",
        fields: [
            EntityField("title", ["type": "string", "description": "What needs doing."]),
            EntityField("description", ["type": "string", "description": "Details."]),
            EntityField("status", ["type": "string", "description": "open, in_progress or completed."]),
            EntityField("due_date", key: "dueDate", ["type": "string", "description": "Due date, RFC 3339 or YYYY-MM-DD."]),
            EntityField("priority", ["type": "string", "description": "low, medium or high."]),
            EntityField("tags", ["type": "array", "items": ["type": "string"], "description": "Labels for the task."]),
            EntityField("parent_uid", key: "parentUid", ["type": "string", "description": "uid of a parent task."]),
        ],
        requiredOnCreate: ["title"],
        filters: [EntityField("status", ["type": "string", "description": "Only tasks with this status."])],
        actions: ["start", "complete", "reopen"]
    ).plugin(name: "tasks", description: "Tasks: track to-dos with status, due dates and priorities."))

@_cdecl("toolbridge_plugin_v1")
public func toolbridgePluginV1(_ hostMinor: UInt32) -> UnsafeRawPointer? { export.descriptor }
