// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "toolbridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "toolbridge", targets: ["toolbridge"]),
        .library(name: "API", targets: ["API"]),
        .library(name: "PluginKit", targets: ["PluginKit"]),
    ] + corePlugins.map { .library(name: "toolbridge-plugin-\($0.product)", type: .dynamic, targets: [$0.target]) },
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-service-context.git", from: "1.5.1"),
        // OTLP over HTTP only: the gRPC exporter would add grpc-swift to every build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .target(
            name: "ToolBridgeJSON",
            dependencies: [.product(name: "OrderedCollections", package: "swift-collections")],
            swiftSettings: fuzzCoverage
        ),
        .target(name: "PluginABI"),
        // The entity kinds described once, for the API, PluginKit, the core plugins and the tests.
        .target(name: "EntityKinds"),
        .target(
            name: "PluginKit",
            dependencies: [
                "PluginABI", "ToolBridgeJSON", "EntityKinds",
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        // What both HTTP servers share: connection limits, JSON responses, the clock, small helpers.
        .target(
            name: "ServerSupport",
            dependencies: [
                "ToolBridgeJSON",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: fuzzCoverage
        ),
        // What both servers tell operators: Prometheus metrics and trace spans, named after the
        // OpenTelemetry semantic conventions.
        .target(
            name: "Observability",
            dependencies: [
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // Who is calling: bearer-token verification, tenant membership and signed tenant headers.
        .target(
            name: "ToolBridgeAuth",
            dependencies: [
                "ServerSupport",
                "ToolBridgeJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Host",
            dependencies: [
                "Observability",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "ServerSupport",
                "ToolBridgeAuth",
                "PluginABI",
                "ToolBridgeJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: fuzzCoverage
        ),
        .target(
            name: "API",
            dependencies: [
                "Observability",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "ToolBridgeJSON",
                "EntityKinds",
                "ServerSupport",
                "ToolBridgeAuth",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: fuzzCoverage
        ),
        // `toolbridge bench`: the load generator and its histograms, outside the server's code.
        .target(
            name: "Bench",
            dependencies: [
                "ToolBridgeAuth",
                "ToolBridgeJSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "toolbridge",
            dependencies: [
                "API",
                "Host",
                "Bench",
                "Observability",
                "ServerSupport",
                "ToolBridgeAuth",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "API",
                "Observability",
                "ServerSupport",
                "ToolBridgeAuth",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "APITests",
            dependencies: [
                "API",
                "Observability",
                "ServerSupport",
                "ToolBridgeAuth",
                "TestSupport",
                "toolbridge",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
            ]
        ),
        .testTarget(
            name: "HostTests",
            dependencies: [
                "API",
                "Observability",
                "ServerSupport",
                "ToolBridgeAuth",
                "TestSupport",
                "Host",
                "PluginABI",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(name: "PluginKitTests", dependencies: ["PluginKit", "EntityKinds"]),
        .testTarget(name: "ToolBridgeJSONTests", dependencies: ["ToolBridgeJSON"]),
    ] + corePlugins.map { .target(name: $0.target, dependencies: ["PluginKit", "EntityKinds"], path: "Plugins/\($0.directory)") }
        + fuzzTargets,
    swiftLanguageModes: [.v6]
)

/// Fuzzing (`scripts/fuzz`): only when `TOOLBRIDGE_FUZZ` is set, our parsers' modules get
/// libFuzzer's coverage instrumentation and the `Fuzz` harness (which links libFuzzer) exists.
/// `scripts/fuzz` builds in its own scratch path, so the normal build never changes.
var fuzzing: Bool { Context.environment["TOOLBRIDGE_FUZZ"] != nil }

var fuzzCoverage: [SwiftSetting] { fuzzing ? [.unsafeFlags(["-sanitize=fuzzer"])] : [] }

var fuzzTargets: [Target] {
    guard fuzzing else { return [] }
    return [
        .executableTarget(
            name: "Fuzz", dependencies: ["API", "Host", "ServerSupport", "ToolBridgeJSON"], path: "Tests/Fuzz", exclude: ["corpus"],
            swiftSettings: fuzzCoverage + [.unsafeFlags(["-parse-as-library"])],
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer"])])
    ]
}

/// The core plugins: each a dynamic library the host finds beside the executable after `swift build`.
/// Nothing links them statically; the host only ever opens them with dlopen.
var corePlugins: [(directory: String, target: String, product: String)] {
    [
        ("Notes", "NotesPlugin", "notes"),
        ("Tasks", "TasksPlugin", "tasks"),
        ("Comments", "CommentsPlugin", "comments"),
        ("Chats", "ChatsPlugin", "chats"),
        ("ChatMessages", "ChatMessagesPlugin", "chat-messages"),
        ("Status", "StatusPlugin", "status"),
        ("Search", "SearchPlugin", "search"),
        ("Batch", "BatchPlugin", "batch"),
        ("Insights", "InsightsPlugin", "insights"),
    ]
}
