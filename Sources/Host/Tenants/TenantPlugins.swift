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

    /// Reads the file's text. Understands the part of TOML this file needs: `#` comments,
    /// `[default]` and `[tenants.NAME]` (NAME bare or quoted) tables, and `plugins = [...]` string
    /// arrays, which may span lines. Anything else is an error naming the line.
    public static func parse(_ text: String) throws(TenantConfigurationError) -> TenantPlugins {
        var configuration = TenantPlugins(defaultPlugins: nil, tenants: [:])
        var section: String?
        var seenSections: Set<String> = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().makeIterator()
        while let (index, rawLine) = lines.next() {
            let number = index + 1
            var line = Self.strippingComment(String(rawLine)).trimmingWhitespace()
            guard !line.isEmpty else { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), !line.hasPrefix("[[") else {
                    throw TenantConfigurationError(line: number, "a table header must look like [default] or [tenants.acme]")
                }
                let name = String(line.dropFirst().dropLast()).trimmingWhitespace()
                section = try Self.section(name, line: number)
                guard seenSections.insert(section!).inserted else {
                    throw TenantConfigurationError(line: number, "the table [\(name)] appears twice")
                }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw TenantConfigurationError(line: number, "expected `plugins = [\"name\", ...]`")
            }
            let key = String(line[..<equals]).trimmingWhitespace()
            guard key == "plugins" else {
                throw TenantConfigurationError(line: number, "unknown key '\(key)'; the only key is 'plugins'")
            }
            guard let section else {
                throw TenantConfigurationError(line: number, "'plugins' must be inside [default] or [tenants.NAME]")
            }
            var value = String(line[line.index(after: equals)...]).trimmingWhitespace()
            while value.hasPrefix("["), !Self.closesArray(value), let (_, next) = lines.next() {
                value += " " + Self.strippingComment(String(next)).trimmingWhitespace()
            }
            line = value
            let plugins = try Self.stringArray(line, line: number)
            if section == "" {
                configuration.defaultPlugins = plugins
            } else {
                configuration.tenants[section] = plugins
            }
        }
        return configuration
    }

    /// "" for [default], the tenant's name for [tenants.NAME].
    private static func section(_ name: String, line: Int) throws(TenantConfigurationError) -> String {
        if name == "default" { return "" }
        guard name.hasPrefix("tenants.") else {
            throw TenantConfigurationError(line: line, "unknown table [\(name)]; use [default] or [tenants.NAME]")
        }
        var tenant = String(name.dropFirst("tenants.".count)).trimmingWhitespace()
        if tenant.count >= 2, tenant.hasPrefix("\""), tenant.hasSuffix("\"") {
            tenant = String(tenant.dropFirst().dropLast())
        }
        guard !tenant.isEmpty, !tenant.contains(" ") else {
            throw TenantConfigurationError(line: line, "the tenant name in [\(name)] is not valid")
        }
        return tenant
    }

    private static func closesArray(_ text: String) -> Bool {
        var inString = false
        for character in text {
            if character == "\"" { inString.toggle() }
            if character == "]", !inString { return true }
        }
        return false
    }

    private static func stringArray(_ text: String, line: Int) throws(TenantConfigurationError) -> Set<String> {
        guard text.hasPrefix("["), text.hasSuffix("]") else {
            throw TenantConfigurationError(line: line, "plugins must be an array of strings, like [\"notes\", \"tasks\"]")
        }
        var names: Set<String> = []
        for item in text.dropFirst().dropLast().split(separator: ",") {
            let trimmed = String(item).trimmingWhitespace()
            if trimmed.isEmpty { continue }
            guard trimmed.count >= 2, trimmed.hasPrefix("\""), trimmed.hasSuffix("\"") else {
                throw TenantConfigurationError(line: line, "\(trimmed) is not a quoted plugin name")
            }
            names.insert(String(trimmed.dropFirst().dropLast()))
        }
        return names
    }

    private static func strippingComment(_ line: String) -> String {
        var inString = false
        for (offset, character) in line.enumerated() {
            if character == "\"" { inString.toggle() }
            if character == "#", !inString { return String(line.prefix(offset)) }
        }
        return line
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
