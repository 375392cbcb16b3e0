import API
import Foundation
import Logging
import Observability
import ServerSupport
import ToolBridgeAuth

/// The two stores every API behaviour is tested on.
public enum StoreKind: String, CaseIterable, Sendable {
    case sqlite
    case postgres
}

public enum TestDatabase {
    /// The throwaway cluster `scripts/test` starts. PostgreSQL tests fail, not skip, without it.
    public static func postgresURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["TOOLBRIDGE_TEST_DATABASE_URL"], !url.isEmpty else {
            throw TestSetupError(
                "TOOLBRIDGE_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts PostgreSQL")
        }
        return url
    }

    /// A fresh directory for a SQLite file (and anything else a test writes).
    public static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("toolbridge-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// An API configuration on the given store; SQLite gets its own file in a fresh directory.
    public static func configuration(_ kind: StoreKind, dataDirectory: String? = nil) throws -> APIConfiguration {
        var configuration = APIConfiguration(
            port: 0,
            auth: AuthConfiguration(
                jwtSecret: TestTokens.secret, delegation: DelegationTrust(secret: TestTokens.delegationSecret)))
        // Tests make many requests as one user at once; RateLimitTests sets its own limits.
        let generous = RateLimit(count: RateLimit.maximumCount, periodSeconds: 1, burst: RateLimit.maximumCount)
        configuration.rateLimits = APIRateLimits(requests: generous, sessions: generous)
        // Metrics on, as in production, each server with its own registry.
        configuration.metrics = APIMetrics(registry: MetricsRegistry())
        switch kind {
        case .sqlite: configuration.dataDirectory = try dataDirectory ?? temporaryDirectory()
        case .postgres:
            configuration.databaseURL = try postgresURL()
            // Many tests run at once, each with its own pool.
            configuration.databaseConnections = 2
        }
        return configuration
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A unique tenant per test, so tests sharing one PostgreSQL database never see each other's rows.
public func uniqueTenant(_ label: String = "t") -> String {
    "\(label)-\(UUID().uuidString.prefix(8).lowercased())"
}

/// The root of the package, for tests that compile files from it (fixtures, examples).
public let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()
