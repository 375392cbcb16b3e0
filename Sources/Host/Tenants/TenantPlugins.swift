import ServerSupport

/// Which plugins each tenant may use, from the operator's file (`TOOLBRIDGE_TENANTS`):
///
/// ```toml
/// [default]
/// plugins = ["notes", "tasks", "comments", "chats", "chat_messages", "search"]
///
/// [tenants.acme]
/// plugins = ["notes", "search"]
/// ```
///
/// A tenant without a section gets the default set. With no file at all, every loaded plugin is
/// enabled for every tenant.
public struct TenantPlugins: Sendable, Equatable {
    /// The plugins of tenants without a section; nil means every loaded plugin.
    public var defaultPlugins: Set<String>?
    public var tenants: [String: Set<String>]

    public init(defaultPlugins: Set<String>? = nil, tenants: [String: Set<String>] = [:]) {
        self.defaultPlugins = defaultPlugins
        self.tenants = tenants
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

    /// Reads the file's text as TOML, the part of it this file needs: `#` comments, `[default]`
    /// and `[tenants.NAME]` tables (NAME a bare key or a quoted one), and `plugins = [...]` arrays
    /// of basic (`"…"`, with TOML's escapes) or literal (`'…'`) strings, which may span lines,
    /// hold comments and end with a comma. Everything TOML has beyond that (other keys and tables,
    /// dotted keys, inline tables, multi-line strings) is refused with an error naming the line,
    /// never read as something else.
    public static func parse(_ text: String) throws(TenantConfigurationError) -> TenantPlugins {
        var reader = TOMLReader(text)
        var configuration = TenantPlugins(defaultPlugins: nil, tenants: [:])
        var section: String?
        var seenSections: Set<String> = []
        var keysInSection: Set<String> = []
        while try reader.skipBlankLines() {
            let line = reader.line
            if reader.peek == "[" {
                let (path, written) = try reader.tableHeader()
                section = try Self.section(path, written: written, line: line)
                guard seenSections.insert(section!).inserted else {
                    throw TenantConfigurationError(line: line, "the table [\(written)] appears twice")
                }
                keysInSection = []
                try reader.endOfLine()
                continue
            }
            let key = try reader.keyPath()
            guard key == ["plugins"] else {
                throw TenantConfigurationError(line: line, "unknown key '\(key.joined(separator: "."))'; the only key is 'plugins'")
            }
            guard let section else {
                throw TenantConfigurationError(line: line, "'plugins' must be inside [default] or [tenants.NAME]")
            }
            guard keysInSection.insert("plugins").inserted else {
                throw TenantConfigurationError(line: line, "'plugins' appears twice in this table")
            }
            try reader.expect("=", "expected `plugins = [\"name\", ...]`")
            let plugins = try reader.stringArray()
            try reader.endOfLine()
            if section == "" {
                configuration.defaultPlugins = plugins
            } else {
                configuration.tenants[section] = plugins
            }
        }
        return configuration
    }

    /// "" for [default], the tenant's name for [tenants.NAME].
    private static func section(_ path: [String], written: String, line: Int) throws(TenantConfigurationError) -> String {
        if path == ["default"] { return "" }
        guard path.count == 2, path[0] == "tenants" else {
            throw TenantConfigurationError(line: line, "unknown table [\(written)]; use [default] or [tenants.NAME]")
        }
        let tenant = path[1]
        guard !tenant.isEmpty, !tenant.contains(" ") else {
            throw TenantConfigurationError(line: line, "the tenant name in [\(written)] is not valid")
        }
        return tenant
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
