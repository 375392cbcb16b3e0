import API
import ArgumentParser
import Foundation
import Host
import Logging
import ServerSupport
import ToolBridgeAuth

/// Where plugins come from: the core plugins built beside the executable, plus operator directories.
struct PluginOptions: ParsableArguments {
    @Option(
        name: [.customLong("dir"), .customLong("plugin-dir")],
        help: "A directory of plugin .so files to load too; repeatable (env TOOLBRIDGE_PLUGIN_DIRS, ':'-separated).")
    var directories: [String] = []

    var allDirectories: [String] {
        let fromEnvironment = (ProcessInfo.processInfo.environment["TOOLBRIDGE_PLUGIN_DIRS"] ?? "")
            .split(separator: ":").map(String.init)
        return fromEnvironment + directories
    }

    func load(logger: Logger) -> PluginLoadReport {
        PluginLoader.load(directories: allDirectories, logger: logger)
    }
}

struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "List the plugins that load, and why any did not.",
        subcommands: [ListPlugins.self, InspectPlugin.self], defaultSubcommand: ListPlugins.self)
}

struct ListPlugins: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List loadable plugins (the default).")

    @OptionGroup var plugins: PluginOptions

    func run() throws {
        Settings.bootstrapLogging(level: "error")
        let report = plugins.load(logger: Logger(label: "toolbridge.plugins"))
        print("\(report.plugins.count) plugins, \(report.toolCount) tools")
        for plugin in report.plugins {
            print("  \(plugin.name) \(plugin.version) — \(plugin.tools.count) tools — \(plugin.path)")
        }
        if !report.refusals.isEmpty {
            print("refused:")
            for refusal in report.refusals { print("  \(refusal.path): \(refusal.reason)") }
        }
    }
}

struct InspectPlugin: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Print a plugin file's tools.")

    @Argument(help: "The plugin's .so file.")
    var file: String

    func run() throws {
        switch PluginLoader.inspect(file) {
        case .failure(let refusal):
            throw ValidationError("\(refusal.path): \(refusal.reason)")
        case .success(let plugin):
            print("\(plugin.name) \(plugin.version): \(plugin.summary)")
            for tool in plugin.tools {
                let arguments = tool.definition["inputSchema"]?["properties"]?.objectValue?.keys.joined(separator: ", ") ?? ""
                print("  \(tool.name)(\(arguments))")
                if let description = tool.description { print("      \(description)") }
            }
        }
    }
}

struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call", abstract: "Run one tool through the host against a running API, and print its result.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var plugins: PluginOptions

    @Argument(help: "The tool's name, e.g. list_notes.")
    var tool: String

    @Option(help: "The tool's arguments as a JSON object.")
    var args = "{}"

    @Option(help: "The user to act as, with the host's delegated credential (see docs/auth.md).")
    var sub: String

    @Option(help: "The tenant to act in (default: the configured default tenant).")
    var tenant: String?

    @Option(help: "The API's base URL (env TOOLBRIDGE_API_URL).")
    var apiURL: String?

    func run() async throws {
        let settings = common.settings(quiet: true)
        let logger = Logger(label: "toolbridge.call")
        let configuration = try settings.apiConfiguration(logger: logger)
        let arguments: JSONValue
        do {
            arguments = try JSONValue.parse(args)
        } catch {
            throw ValidationError("--args is not valid JSON: \(error)")
        }
        let tenant = tenant ?? configuration.auth.defaultTenant
        let proxy = RESTProxy(
            configuration: ProxyConfiguration(
                apiURL: settings.apiURL(flag: apiURL),
                tenantSecret: configuration.auth.tenantSecret),
            credentials: try await DelegatedCredentials(
                key: try settings.delegationKey(), actor: settings.hostActor, userSecret: configuration.auth.jwtSecret),
            logger: logger)
        let report = plugins.load(logger: logger)
        let runner = ToolRunner(plugins: report.plugins, proxy: proxy, logger: logger)
        let identity = CallIdentity(
            user: sub, tenant: tenant, correlationID: UUID().uuidString.lowercased())
        let tool = self.tool
        let outcome = try await withRunningServices([proxy, runner]) {
            await runner.call(tool, arguments: arguments, identity: identity)
        }
        if outcome.isError {
            FileHandle.standardError.write(Data("error: \(outcome.value.serialized)\n".utf8))
            throw ExitCode(1)
        }
        print(outcome.value.serialized)
    }
}
