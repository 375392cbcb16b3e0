import Host
import Testing

@Suite("Tenant plugin sets")
struct TenantPluginsTests {
    @Test("the file's default set, tenant sets, quoted names, comments and multi-line arrays")
    func parsesTheFile() throws {
        let plugins = try TenantPlugins.parse(
            """
            # which plugins each tenant may use
            [default]
            plugins = ["notes", "tasks", "comments"]   # the rest later

            [tenants.acme]
            plugins = ["notes", "search"]

            [tenants."globex.eu"]
            plugins = [
              "chats",
              "chat_messages",
            ]
            """)
        #expect(plugins.defaultPlugins == ["notes", "tasks", "comments"])
        #expect(plugins.plugins(for: "acme") == ["notes", "search"])
        #expect(plugins.plugins(for: "globex.eu") == ["chats", "chat_messages"])
        #expect(plugins.plugins(for: "someone-else") == ["notes", "tasks", "comments"])
        #expect(plugins.allows(plugin: "search", tenant: "acme"))
        #expect(!plugins.allows(plugin: "tasks", tenant: "acme"))
        #expect(TenantPlugins.everything.allows(plugin: "anything", tenant: "anyone"))
    }

    @Test("mistakes are refused with the line and the reason", arguments: [
        ("[default]\nplugin = [\"notes\"]", "line 2: unknown key 'plugin'"),
        ("[tenant.acme]\nplugins = []", "line 1: unknown table [tenant.acme]"),
        ("plugins = [\"notes\"]", "line 1: 'plugins' must be inside [default] or [tenants.NAME]"),
        ("[default]\nplugins = \"notes\"", "line 2: plugins must be an array of strings"),
        ("[default]\nplugins = [notes]", "line 2: notes is not a quoted plugin name"),
        ("[default]\n[default]", "line 2: the table [default] appears twice"),
        ("[[tenants]]", "line 1: a table header must look like"),
    ])
    func refusesMistakes(text: String, message: String) {
        #expect {
            try TenantPlugins.parse(text)
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }
}
