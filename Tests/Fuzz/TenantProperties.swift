import Host

/// The tenants file reader never traps; what it accepts has valid tenant names, and a result
/// whose names are plain is read back unchanged from its canonical text, limits included.
enum TenantProperties {
    static func check(_ text: String) {
        guard let plugins = try? TenantPlugins.parse(text) else { return }
        for tenant in Array(plugins.tenants.keys) + plugins.tenantLimits.keys {
            require(!tenant.isEmpty && !tenant.contains(" "), "the tenant name '\(tenant)' was accepted")
        }
        let tools = plugins.limits.tools.keys + plugins.tenantLimits.values.flatMap(\.tools.keys)
        let names = plugins.tenants.keys + plugins.tenants.values.flatMap { $0 } + (plugins.defaultPlugins ?? [])
            + plugins.tenantLimits.keys + tools
        guard names.allSatisfy(isPlain) else { return }
        let canonical = render(plugins)
        let reread = try? TenantPlugins.parse(canonical)
        require(reread == plugins, "the canonical text of a parsed file reads differently:\n\(canonical)")
    }

    /// Names the file format can write without quoting rules of its own.
    private static func isPlain(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { scalar in
            (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-_.:@".unicodeScalars.contains(scalar))
                && !scalar.properties.isWhitespace
        }
    }

    private static func render(_ plugins: TenantPlugins) -> String {
        func list(_ names: Set<String>) -> String {
            "plugins = [" + names.sorted().map { "\"\($0)\"" }.joined(separator: ", ") + "]\n"
        }
        var text = ""
        if let defaults = plugins.defaultPlugins { text += "[default]\n" + list(defaults) }
        for (tenant, names) in plugins.tenants.sorted(by: { $0.key < $1.key }) {
            text += "[tenants.\"\(tenant)\"]\n" + list(names)
        }
        func limits(_ limits: MCPLimits, table: String) -> String {
            var text = "[\(table)]\n"
            for (name, limit) in limits.values.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                text += "\(name.rawValue) = \"\(limit)\"\n"
            }
            text += "[\(table).tools]\n"
            for (tool, limit) in limits.tools.sorted(by: { $0.key < $1.key }) { text += "\"\(tool)\" = \"\(limit)\"\n" }
            return text
        }
        text += limits(plugins.limits, table: "limits")
        for (tenant, tenantLimits) in plugins.tenantLimits.sorted(by: { $0.key < $1.key }) {
            text += limits(tenantLimits, table: "tenants.\"\(tenant)\".limits")
        }
        return text
    }
}
