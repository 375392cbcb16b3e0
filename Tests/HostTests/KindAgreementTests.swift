import API
import Foundation
import Host
import PluginABI
import TestSupport
import Testing

/// The core plugins' tools and the API's endpoints are both generated from the kinds'
/// descriptions (`EntityKind`). These tests run the built plugins (dlopen) against a running API
/// and check that the two agree: what the tools offer, the API accepts, and what the API serves,
/// the tools offer.
@Suite("The tools and the API agree on the kinds")
struct KindAgreementTests {
    /// A kind as the API describes it in `GET /v1/sync/info`.
    struct APIKind {
        let name: String
        let actions: [String]
        let filters: [String]
    }

    static func apiKinds(_ host: HostHarness) async throws -> [APIKind] {
        let response = try await host.proxy.send(
            ProxyRequest(method: "GET", path: "/v1/sync/info"), as: HostHarness.identity(tenant: host.tenant))
        #expect(response.status == 200)
        let kinds = try #require(try JSONValue.parse(response.body)["kinds"]?.arrayValue)
        return kinds.map { kind in
            APIKind(
                name: kind["name"]?.stringValue ?? "",
                actions: kind["actions"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                filters: kind["filters"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
    }

    /// The tool of the plugin serving `kind` whose name starts with `verb_`.
    static func tool(_ verb: String, of kind: String) throws -> ToolDefinition {
        let plugin = try #require(builtPlugins.plugins.first { $0.name == kind }, "a plugin serves \(kind)")
        return try #require(plugin.tools.first { $0.name.hasPrefix(verb + "_") }, "\(kind) has a \(verb) tool")
    }

    static func strings(_ value: JSONValue?) -> [String]? {
        value?.arrayValue?.compactMap(\.stringValue)
    }

    /// The uids of the items a list tool returned.
    static func uids(_ outcome: ToolOutcome) -> [JSONValue] {
        outcome.value["items"]?.arrayValue?.compactMap { $0["uid"] } ?? []
    }

    /// Creates an item of `kind` through its create tool with every field set (and live parents
    /// where the kind needs them), and returns the arguments sent and the item created.
    static func create(_ kind: EntityKind, _ host: HostHarness) async throws -> (arguments: JSONObject, item: JSONValue) {
        var arguments = JSONObject()
        for field in kind.fields {
            arguments[field.argument] = try await value(for: field, of: kind, host)
        }
        let created = await host.call("create_\(kind.singular)", .object(arguments))
        try #require(!created.isError, "create_\(kind.singular): \(created.value.serialized)")
        return (arguments, created.value)
    }

    private static func value(for field: EntityField, of kind: EntityKind, _ host: HostHarness) async throws -> JSONValue {
        if let parent = kind.parent, let first = parent.kinds.first {
            if field.key == parent.typeKey { return .string(first.type) }
            if field.key == parent.uidKey {
                let parentKind = try #require(EntityKind.named(first.kind))
                return try #require(try await create(parentKind, host).item["uid"])
            }
        }
        return sample(field.type)
    }

    private static func sample(_ type: FieldType) -> JSONValue {
        switch type {
        case .string: "agreement"
        case .integer: 7
        case .number: .number("1.5")
        case .boolean: true
        case .object: ["agreement": true]
        case .array(let items): [sample(items)]
        case .oneOf(let values): .string(values.first ?? "")
        }
    }

    @Test("every kind the API serves has a plugin of its name, and every entity plugin serves an API kind")
    func pluginPerKind() async throws {
        try await HostHarness.run(.sqlite) { host in
            let apiKinds = try await Self.apiKinds(host).map(\.name)
            #expect(apiKinds == EntityKind.all.map(\.name))
            let entityPlugins = builtPlugins.plugins.filter { plugin in
                plugin.tools.contains { $0.name.hasPrefix("process_") }
            }
            #expect(Set(entityPlugins.map(\.name)) == Set(apiKinds))
            for name in apiKinds {
                #expect(try Self.tool("list", of: name).name == "list_\(name)")
            }
        }
    }

    @Test("a process tool offers exactly the API's actions, and the API accepts each", arguments: StoreKind.allCases)
    func actionsAgree(store: StoreKind) async throws {
        try await HostHarness.run(store) { host in
            for apiKind in try await Self.apiKinds(host) {
                let process = try Self.tool("process", of: apiKind.name)
                let offered = Self.strings(process.definition["inputSchema"]?["properties"]?["action"]?["enum"])
                #expect(offered == apiKind.actions, "\(process.name)")
                let kind = try #require(EntityKind.named(apiKind.name))
                let uid = try #require(try await Self.create(kind, host).item["uid"])
                for action in offered ?? [] {
                    let outcome = await host.call(process.name, ["uid": uid, "action": .string(action)])
                    #expect(!outcome.isError, "\(process.name) \(action): \(outcome.value.serialized)")
                    #expect(
                        outcome.value["payload"]?["lastAction"]?["action"] == .string(action), "\(process.name) \(action)")
                }
            }
        }
    }

    @Test("the create tool offers the kind's fields and stores each under its payload key", arguments: StoreKind.allCases)
    func fieldsAgree(store: StoreKind) async throws {
        try await HostHarness.run(store) { host in
            for kind in EntityKind.all {
                let create = try Self.tool("create", of: kind.name)
                let offered = create.definition["inputSchema"]?["properties"]?.objectValue?.keys.map { $0 }
                #expect(offered == kind.fields.map(\.argument) + ["additional_fields"], "\(create.name)")
                let (arguments, item) = try await Self.create(kind, host)
                for field in kind.fields {
                    #expect(
                        item["payload"]?[field.key] == arguments[field.argument],
                        "\(create.name) stores \(field.argument) as \(field.key)")
                }
            }
        }
    }

    @Test("every list filter argument sends a query parameter the API's list filters on", arguments: StoreKind.allCases)
    func filtersAgree(store: StoreKind) async throws {
        try await HostHarness.run(store) { host in
            let apiKinds = try await Self.apiKinds(host)
            for kind in EntityKind.all {
                let list = try Self.tool("list", of: kind.name)
                let properties = try #require(list.definition["inputSchema"]?["properties"]?.objectValue)
                #expect(
                    Array(properties.keys) == ["limit", "cursor", "include_deleted"] + kind.filterArguments.map(\.argument),
                    "\(list.name)")
                let accepted = apiKinds.first { $0.name == kind.name }?.filters ?? []
                let uid = try #require(try await Self.create(kind, host).item["uid"])
                for filter in kind.filterArguments {
                    #expect(accepted.contains(filter.key), "\(list.name): the API lists \(filter.key) among its filters")
                    var value = await host.call("get_\(kind.singular)", ["uid": uid]).value["payload"]?[filter.key] ?? .null
                    if value == .null {
                        value = "agreement"
                        let patched = await host.call("patch_\(kind.singular)", ["uid": uid, "updates": [filter.key: value]])
                        try #require(!patched.isError, "\(patched.value.serialized)")
                    }
                    let other: JSONValue =
                        if case .oneOf(let values) = filter.type {
                            .string(values.first { $0 != value.stringValue } ?? "")
                        } else {
                            .string(UUID().uuidString.lowercased())
                        }
                    let matching = await host.call(list.name, [filter.argument: value])
                    let call = "\(list.name)(\(filter.argument): …)"
                    #expect(Self.uids(matching).contains(uid), "\(call) lists the item whose \(filter.key) is \(value.serialized)")
                    let others = await host.call(list.name, [filter.argument: other])
                    #expect(!others.isError && !Self.uids(others).contains(uid), "\(call) with \(other.serialized) does not")
                }
            }
        }
    }

    @Test(
        "the kinds that cross-kind tools offer are exactly the API's kinds, and the API accepts each",
        arguments: StoreKind.allCases)
    func crossKindArgumentsAgree(store: StoreKind) async throws {
        try await HostHarness.run(store) { host in
            let apiKinds = try await Self.apiKinds(host).map(\.name)
            let tools = builtPlugins.plugins.flatMap(\.tools)
            func schema(_ name: String) throws -> JSONValue? {
                try #require(tools.first { $0.name == name }, "\(name) is loaded").definition["inputSchema"]?["properties"]
            }
            for name in ["search", "insights", "list_tags"] {
                #expect(Self.strings(try schema(name)?["kinds"]?["items"]?["enum"]) == apiKinds, "\(name)")
            }
            #expect(Self.strings(try schema("batch")?["operations"]?["items"]?["properties"]?["kind"]?["enum"]) == apiKinds)

            let kinds = JSONValue.array(apiKinds.map(JSONValue.string))
            let search = await host.call("search", ["query": "agreement", "kinds": kinds])
            #expect(!search.isError, "\(search.value.serialized)")
            let insights = await host.call("insights", ["kinds": kinds])
            let counted = insights.value["kinds"]?.objectValue.map { Set($0.keys) }
            #expect(counted == Set(apiKinds), "\(insights.value.serialized)")
        }
    }
}
