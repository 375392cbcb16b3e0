import Host
import ServerSupport
import Testing

/// The `[limits]` tables of the tenants file: what they set, which one wins, and what is refused.
@Suite("Tenants file limits")
struct TenantLimitsTests {
    static let file = """
        [default]
        plugins = ["notes"]

        [limits]                      # every tenant
        user_calls = "300/60s burst 60"
        read_calls = 'off'
        [limits.tools]
        create_note = "10/60s burst 5"
        "odd.tool" = "1/1s"

        [tenants.acme.limits]
        tenant_calls = "100/1m burst 20"
        user_calls = "30/60s burst 6"
        [tenants.acme.limits.tools]
        create_note = "2/1h burst 1"
        """

    @Test("a tenant's own limit wins over every tenant's, which wins over the process's default")
    func tenantOverridesFileDefaults() throws {
        let parsed = try TenantPlugins.parse(Self.file)
        #expect(parsed.limit(.userCalls, tenant: "acme")?.description == "30/60s burst 6")
        #expect(parsed.limit(.userCalls, tenant: "globex")?.description == "300/60s burst 60")
        #expect(parsed.limit(.tenantCalls, tenant: "acme")?.description == "100/60s burst 20")
        #expect(parsed.limit(.tenantCalls, tenant: "globex") == nil, "unset: the process's default applies")
        #expect(parsed.limit(.readCalls, tenant: "globex") == .off)
    }

    @Test("named tools get their own limits, per tenant too")
    func toolLimits() throws {
        let parsed = try TenantPlugins.parse(Self.file)
        #expect(parsed.limit(tool: "create_note", tenant: "acme")?.description == "2/3600s burst 1")
        #expect(parsed.limit(tool: "create_note", tenant: "globex")?.description == "10/60s burst 5")
        #expect(parsed.limit(tool: "odd.tool", tenant: "globex")?.description == "1/1s burst 1")
        #expect(parsed.limit(tool: "get_note", tenant: "acme") == nil)
    }

    @Test("limits tables leave the plugin sets alone")
    func limitsDoNotChangePlugins() throws {
        let parsed = try TenantPlugins.parse(Self.file)
        #expect(parsed.plugins(for: "acme") == ["notes"], "acme has no plugins table, so it gets the default set")
        #expect(parsed.tenants.isEmpty)
    }

    @Test("limits the file cannot hold are refused with the line and the reason", arguments: [
        ("[limits]\nuser_call = \"1/1s\"", "line 2: unknown limit 'user_call'; the limits are requests, user_calls"),
        ("[limits]\nuser_calls = \"1/1x\"", "line 2: '1/1x' is not a rate limit: the period needs a unit"),
        ("[limits]\nuser_calls = 5", "line 2: a limit must be a quoted string"),
        ("[limits]\nuser_calls = \"1/1s\"\nuser_calls = \"2/1s\"", "line 3: 'user_calls' appears twice in this table"),
        ("[limits]\nplugins = []", "line 2: unknown limit 'plugins'"),
        ("[default]\nuser_calls = \"1/1s\"", "line 2: unknown key 'user_calls'; the only key is 'plugins'"),
        ("[limits.tools]\na.b = \"1/1s\"", "line 2: 'a.b' is not a tool name"),
        ("[limits.other]\n", "line 1: unknown table [limits.other]"),
        ("[tenants.acme.limits.other]\n", "line 1: unknown table [tenants.acme.limits.other]"),
        ("[limits]\n[limits]", "line 2: the table [limits] appears twice"),
        ("[limits]\nuser_calls = \"\"\"1/1s\"\"\"", "line 2: multi-line strings are not supported"),
        ("user_calls = \"1/1s\"", "line 1: 'user_calls' must be inside [default] or [tenants.NAME] (plugins), or a [limits] table"),
    ])
    func refusesBadLimits(text: String, message: String) {
        #expect {
            try TenantPlugins.parse(text)
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }
}
