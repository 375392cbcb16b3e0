import ServerSupport

/// Which plugins each tenant may use, and the MCP edge's rate limits that differ from the
/// process's defaults, from the operator's file (`TOOLBRIDGE_TENANTS`):
///
/// ```toml
/// [default]
/// plugins = ["notes", "tasks", "comments", "chats", "chat_messages", "search"]
///
/// [tenants.acme]
/// plugins = ["notes", "search"]
///
/// [limits]                  # every tenant's limits
/// user_calls = "300/60s burst 60"
/// [limits.tools]            # per user and tool
/// create_note = "10/60s burst 5"
/// [tenants.acme.limits]     # one tenant's (also [tenants.acme.limits.tools])
/// tenant_calls = "100/60s burst 20"
/// ```
///
/// A tenant without a section gets the default set. With no file at all, every loaded plugin is
/// enabled for every tenant.
public struct TenantPlugins: Sendable, Equatable {
    /// The plugins of tenants without a section; nil means every loaded plugin.
    public var defaultPlugins: Set<String>?
    public var tenants: [String: Set<String>]
    /// `[limits]` and `[limits.tools]`: every tenant's limits, over the process's defaults.
    public var limits: MCPLimits
    /// `[tenants.NAME.limits]` and `[tenants.NAME.limits.tools]`: one tenant's, over `limits`.
    public var tenantLimits: [String: MCPLimits]

    public init(
        defaultPlugins: Set<String>? = nil, tenants: [String: Set<String>] = [:], limits: MCPLimits = .init(),
        tenantLimits: [String: MCPLimits] = [:]
    ) {
        self.defaultPlugins = defaultPlugins
        self.tenants = tenants
        self.limits = limits
        self.tenantLimits = tenantLimits
    }

    /// Every loaded plugin for every tenant: the configuration without a file.
    public static let everything = TenantPlugins()

    /// The enabled plugin names of `tenant`, or nil for "all of them".
    public func plugins(for tenant: String) -> Set<String>? {
        tenants[tenant] ?? defaultPlugins
    }

    public func allows(plugin: String, tenant: String) -> Bool {
        plugins(for: tenant)?.contains(plugin) ?? true
    }

    /// The limit `name` of `tenant` when the file sets it (the tenant's own, else every tenant's).
    public func limit(_ name: MCPLimitName, tenant: String) -> RateLimit? {
        tenantLimits[tenant]?.values[name] ?? limits.values[name]
    }

    /// The limit of `tool` per user in `tenant` when the file names the tool.
    public func limit(tool: String, tenant: String) -> RateLimit? {
        tenantLimits[tenant]?.tools[tool] ?? limits.tools[tool]
    }

    /// Reads the file's text as TOML, the part of it this file needs: `#` comments, the tables
    /// above (names bare keys or quoted ones), `plugins = [...]` arrays of basic (`"…"`, with
    /// TOML's escapes) or literal (`'…'`) strings, which may span lines, hold comments and end
    /// with a comma, and limits as one-line strings (`RateLimit`'s text form). Everything TOML
    /// has beyond that (other keys and tables, dotted keys, inline tables, multi-line strings)
    /// is refused with an error naming the line, never read as something else.
    public static func parse(_ text: String) throws(TenantConfigurationError) -> TenantPlugins {
        var reader = TOMLReader(text)
        var configuration = TenantPlugins()
        var section: Section?
        var seenSections: Set<Section> = []
        var keysInSection: Set<String> = []
        while try reader.skipBlankLines() {
            let line = reader.line
            if reader.peek == "[" {
                let (path, written) = try reader.tableHeader()
                let named = try Self.section(path, written: written, line: line)
                guard seenSections.insert(named).inserted else {
                    throw TenantConfigurationError(line: line, "the table [\(written)] appears twice")
                }
                section = named
                keysInSection = []
                try reader.endOfLine()
                continue
            }
            let key = try reader.keyPath()
            let name = key.joined(separator: ".")
            guard let section else {
                throw TenantConfigurationError(
                    line: line, "'\(name)' must be inside [default] or [tenants.NAME] (plugins), or a [limits] table")
            }
            try section.check(key, line: line)
            guard keysInSection.insert(name).inserted else {
                throw TenantConfigurationError(line: line, "'\(name)' appears twice in this table")
            }
            switch section {
            case .plugins(let tenant):
                try reader.expect("=", "expected `plugins = [\"name\", ...]`")
                let plugins = try reader.stringArray()
                if let tenant {
                    configuration.tenants[tenant] = plugins
                } else {
                    configuration.defaultPlugins = plugins
                }
            case .limits(let tenant), .toolLimits(let tenant):
                try reader.expect("=", "expected `\(name) = \"600/60s burst 120\"` (or \"off\")")
                let text = try reader.quotedString("a limit must be a quoted string, like \"600/60s burst 120\" or \"off\"")
                let limit: RateLimit
                do {
                    limit = try RateLimit.parse(text)
                } catch {
                    throw TenantConfigurationError(line: line, "\(error)")
                }
                var limits = tenant.map { configuration.tenantLimits[$0] ?? MCPLimits() } ?? configuration.limits
                if case .limits = section, let limitName = MCPLimitName(rawValue: key[0]) {
                    limits.values[limitName] = limit
                } else {
                    limits.tools[key[0]] = limit
                }
                if let tenant {
                    configuration.tenantLimits[tenant] = limits
                } else {
                    configuration.limits = limits
                }
            }
            try reader.endOfLine()
        }
        return configuration
    }

    /// A table of the file; the tenant is nil for the tables that apply to every tenant.
    private enum Section: Hashable {
        /// [default] (nil) or [tenants.NAME]
        case plugins(String?)
        /// [limits] or [tenants.NAME.limits]
        case limits(String?)
        /// [limits.tools] or [tenants.NAME.limits.tools]
        case toolLimits(String?)

        /// Refuses a key the table cannot hold.
        func check(_ key: [String], line: Int) throws(TenantConfigurationError) {
            let name = key.joined(separator: ".")
            switch self {
            case .plugins:
                guard key == ["plugins"] else {
                    throw TenantConfigurationError(line: line, "unknown key '\(name)'; the only key is 'plugins'")
                }
            case .limits:
                guard key.count == 1, MCPLimitName(rawValue: key[0]) != nil else {
                    let names = MCPLimitName.allCases.map(\.rawValue).joined(separator: ", ")
                    throw TenantConfigurationError(line: line, "unknown limit '\(name)'; the limits are \(names)")
                }
            case .toolLimits:
                guard key.count == 1, !key[0].isEmpty else {
                    throw TenantConfigurationError(
                        line: line, "'\(name)' is not a tool name: one key per tool (quote a name that holds dots)")
                }
            }
        }
    }

    private static func section(_ path: [String], written: String, line: Int) throws(TenantConfigurationError) -> Section {
        switch path {
        case ["default"]: return .plugins(nil)
        case ["limits"]: return .limits(nil)
        case ["limits", "tools"]: return .toolLimits(nil)
        default: break
        }
        let unknown = TenantConfigurationError(
            line: line,
            "unknown table [\(written)]; use [default], [tenants.NAME], [limits], [limits.tools], "
                + "[tenants.NAME.limits] or [tenants.NAME.limits.tools]")
        guard path.first == "tenants", path.count >= 2 else { throw unknown }
        let kind: (String?) -> Section
        switch Array(path.dropFirst(2)) {
        case []: kind = Section.plugins
        case ["limits"]: kind = Section.limits
        case ["limits", "tools"]: kind = Section.toolLimits
        default: throw unknown
        }
        let tenant = path[1]
        guard !tenant.isEmpty, !tenant.contains(" ") else {
            throw TenantConfigurationError(line: line, "the tenant name in [\(written)] is not valid")
        }
        return kind(tenant)
    }
}

/// Reads the tokens of the TOML subset `TenantPlugins.parse` accepts, counting lines.
private struct TOMLReader {
    private let scalars: [Unicode.Scalar]
    private var position = 0
    private(set) var line = 1

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private func peek(_ offset: Int) -> Unicode.Scalar? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }

    private mutating func advance() {
        if scalars[position] == "\n" { line += 1 }
        position += 1
    }

    /// Skips spaces and tabs.
    private mutating func skipSpaces() {
        while let next = peek, next == " " || next == "\t" { advance() }
    }

    /// Skips a comment up to (not past) the end of its line.
    private mutating func skipComment() throws(TenantConfigurationError) {
        guard peek == "#" else { return }
        while let next = peek, next != "\n" {
            guard next == "\t" || !(next.value < 0x20 || next.value == 0x7F) || (next == "\r" && peek(1) == "\n") else {
                throw error("a comment holds a control character")
            }
            advance()
        }
    }

    /// Skips spaces, comments and line ends; false at the end of the text.
    mutating func skipBlankLines() throws(TenantConfigurationError) -> Bool {
        while true {
            skipSpaces()
            try skipComment()
            guard let next = peek else { return false }
            if next == "\n" || (next == "\r" && peek(1) == "\n") {
                advance()
            } else {
                return true
            }
        }
    }

    /// After a table header or a key's value: only spaces and a comment before the line ends.
    mutating func endOfLine() throws(TenantConfigurationError) {
        skipSpaces()
        try skipComment()
        guard let next = peek else { return }
        guard next == "\n" || (next == "\r" && peek(1) == "\n") else {
            throw error("unexpected text after the value: one key or table per line")
        }
    }

    mutating func expect(_ scalar: Unicode.Scalar, _ message: String) throws(TenantConfigurationError) {
        skipSpaces()
        guard peek == scalar else { throw error(message) }
        advance()
        skipSpaces()
    }

    /// `[a.b]`: the key path and the header's text as written.
    mutating func tableHeader() throws(TenantConfigurationError) -> (path: [String], written: String) {
        guard peek(1) != "[" else { throw error("a table header must look like [default] or [tenants.acme]") }
        advance()
        skipSpaces()
        let start = position
        let path = try keyPath()
        var end = position
        while end > start, scalars[end - 1] == " " || scalars[end - 1] == "\t" { end -= 1 }
        let written = String(String.UnicodeScalarView(scalars[start..<end]))
        guard peek == "]" else { throw error("a table header must look like [default] or [tenants.acme]") }
        advance()
        return (path, written)
    }

    /// A dotted key: bare (`A-Za-z0-9_-`) or quoted parts.
    mutating func keyPath() throws(TenantConfigurationError) -> [String] {
        var path: [String] = []
        repeat {
            skipSpaces()
            switch peek {
            case "\"", "'": path.append(try string())
            default:
                let start = position
                while let next = peek, Self.isBareKey(next) { advance() }
                guard position > start else {
                    throw error("expected a key (a name of A-Z, a-z, 0-9, _ and -, or a quoted one)")
                }
                path.append(String(String.UnicodeScalarView(scalars[start..<position])))
            }
            skipSpaces()
            guard peek == "." else { return path }
            advance()
        } while true
    }

    /// `[ "a", 'b', ]`: an array of strings, across lines and comments.
    mutating func stringArray() throws(TenantConfigurationError) -> Set<String> {
        guard peek == "[" else { throw error("plugins must be an array of strings, like [\"notes\", \"tasks\"]") }
        advance()
        var names: Set<String> = []
        while true {
            guard try skipBlankLines() else { throw error("the array is not closed with ]") }
            if peek == "]" {
                advance()
                return names
            }
            guard peek == "\"" || peek == "'" else {
                let start = position
                while let next = peek, !" \t\r\n,]#".unicodeScalars.contains(next) { advance() }
                let token = String(String.UnicodeScalarView(scalars[start..<position]))
                throw error("\(token) is not a quoted plugin name")
            }
            names.insert(try string())
            guard try skipBlankLines() else { throw error("the array is not closed with ]") }
            if peek == "," {
                advance()
            } else if peek != "]" {
                throw error("expected , or ] after a plugin name")
            }
        }
    }

    /// A basic or literal string, where a value must be one.
    mutating func quotedString(_ message: String) throws(TenantConfigurationError) -> String {
        guard peek == "\"" || peek == "'" else { throw error(message) }
        return try string()
    }

    /// A one-line basic string with TOML's escapes, or a literal string taken as written.
    private mutating func string() throws(TenantConfigurationError) -> String {
        let quote = peek!
        if peek(1) == quote, peek(2) == quote { throw error("multi-line strings are not supported in this file") }
        advance()
        var value = String.UnicodeScalarView()
        while true {
            guard let next = peek, next != "\n" else { throw error("a string is not closed on its line") }
            advance()
            if next == quote { return String(value) }
            guard next == "\t" || !(next.value < 0x20 || next.value == 0x7F) else {
                throw error("a string holds a control character; write it as an escape")
            }
            if next == "\\", quote == "\"" {
                value.append(try escape())
            } else {
                value.append(next)
            }
        }
    }

    private mutating func escape() throws(TenantConfigurationError) -> Unicode.Scalar {
        guard let next = peek else { throw error("a string is not closed on its line") }
        advance()
        switch next {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "e": return "\u{1B}"
        case "\"": return "\""
        case "\\": return "\\"
        case "u", "U":
            let digits = next == "u" ? 4 : 8
            var code: UInt32 = 0
            for _ in 0..<digits {
                guard let digit = peek, let value = Int(String(digit), radix: 16) else {
                    throw error("\\\(next) needs \(digits) hexadecimal digits")
                }
                advance()
                code = code << 4 | UInt32(value)
            }
            guard let scalar = Unicode.Scalar(code) else { throw error("\\\(next) names no Unicode scalar") }
            return scalar
        default:
            throw error("\\\(next) is not a TOML escape")
        }
    }

    private static func isBareKey(_ scalar: Unicode.Scalar) -> Bool {
        ("A"..."Z").contains(scalar) || ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
            || scalar == "-"
    }

    private func error(_ reason: String) -> TenantConfigurationError {
        TenantConfigurationError(line: line, reason)
    }
}

public struct TenantConfigurationError: Error, Sendable, CustomStringConvertible {
    public let line: Int
    public let reason: String

    init(line: Int, _ reason: String) {
        self.line = line
        self.reason = reason
    }

    public var description: String { "line \(line): \(reason)" }
}
