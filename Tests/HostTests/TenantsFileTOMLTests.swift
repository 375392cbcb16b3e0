import Host
import Testing

/// The tenants file is TOML: what TOML means is what the host reads, and what this file does
/// not support is refused, never read as something else.
@Suite("Tenants file as TOML")
struct TenantsFileTOMLTests {
    @Test("literal strings are read as written, backslashes included")
    func literalStrings() throws {
        let plugins = try TenantPlugins.parse("[default]\nplugins = ['notes', 'c:\\\\tools']")
        #expect(plugins.defaultPlugins == ["notes", "c:\\\\tools"])
    }

    @Test("a comma or a # inside a string belongs to the string")
    func commasAndHashesInsideStrings() throws {
        let plugins = try TenantPlugins.parse("[default]\nplugins = [\"a,b\", 'c#d'] # comment, with a comma")
        #expect(plugins.defaultPlugins == ["a,b", "c#d"])
    }

    @Test("basic strings use TOML's escapes")
    func basicStringEscapes() throws {
        let plugins = try TenantPlugins.parse("[default]\nplugins = [\"say \\\"hi\\\"\", \"\\u00e9t\\u00e9\"]")
        #expect(plugins.defaultPlugins == ["say \"hi\"", "été"])
    }

    @Test("quoted tenant names may be literal strings and hold dots")
    func quotedTenantNames() throws {
        let plugins = try TenantPlugins.parse("[tenants.'globex.eu']\nplugins = []\n[ tenants . \"initech\" ]\nplugins = ['notes']")
        #expect(plugins.plugins(for: "globex.eu") == [])
        #expect(plugins.plugins(for: "initech") == ["notes"])
    }

    @Test("comments between array items and CRLF line ends are read")
    func commentsInsideArraysAndCRLF() throws {
        let plugins = try TenantPlugins.parse("[default]\r\nplugins = [ # the core\r\n  'notes', # first\r\n  'tasks'\r\n]\r\n")
        #expect(plugins.defaultPlugins == ["notes", "tasks"])
    }

    @Test("TOML the file does not support is refused with the line and the reason", arguments: [
        ("[tenants.a.b]\nplugins = []", "line 1: unknown table [tenants.a.b]"),
        ("[default]\nplugins = [\"\"\"notes\"\"\"]", "line 2: multi-line strings are not supported"),
        ("[default]\nplugins = [\"notes\"] extra", "line 2: unexpected text after the value"),
        ("[default]\nplugins = [\"notes\"]\nplugins = []", "line 3: 'plugins' appears twice in this table"),
        ("[default]\nplugins = [\"no\\qescape\"]", "line 2: \\q is not a TOML escape"),
        ("[default]\nplugins = [\"open", "line 2: a string is not closed on its line"),
        ("[default]\nplugins = [\n\"notes\"", "line 3: the array is not closed with ]"),
        ("[default]\nplugins = [\"a\" \"b\"]", "line 2: expected , or ] after a plugin name"),
        ("[default]\nplugins.x = []", "line 2: unknown key 'plugins.x'"),
    ])
    func refusesUnsupportedTOML(text: String, message: String) {
        #expect {
            try TenantPlugins.parse(text)
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }
}
