import API
import TestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import ToolBridgeAuth

/// A response of the API under test, with its body parsed when it is JSON.
struct APIResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String
    let json: JSONValue?

    subscript(key: String) -> JSONValue? { json?[key] }

    /// The `error` sentence of an error body.
    var error: String { json?["error"]?.stringValue ?? "" }
}

/// A user as a test drives it: its token, tenant header and sync session.
struct TestUser: Sendable {
    let name: String
    let token: String
    var tenantHeader: String?
    var session: String
    var epoch: Int64

    /// Everything an entity request needs.
    var headers: HTTPFields {
        var fields = HTTPFields()
        fields[.authorization] = "Bearer \(token)"
        if let tenantHeader { fields[.tenantID] = tenantHeader }
        fields[.syncSession] = session
        fields[.syncEpoch] = String(epoch)
        return fields
    }

    var authOnly: HTTPFields {
        var fields = HTTPFields()
        fields[.authorization] = "Bearer \(token)"
        if let tenantHeader { fields[.tenantID] = tenantHeader }
        return fields
    }
}

/// The API running in process on a real store, driven through Hummingbird's test client over a
/// loopback socket.
struct TestAPI: Sendable {
    let client: any TestClientProtocol
    let store: any ItemStore
    /// The tenant this test's users belong to unless a test says otherwise.
    let tenant: String

    static func run<Value: Sendable>(
        _ kind: StoreKind, configure: (inout APIConfiguration) -> Void = { _ in },
        _ body: @Sendable (TestAPI) async throws -> Value
    ) async throws -> Value {
        var configuration = try TestDatabase.configuration(kind)
        configure(&configuration)
        return try await run(configuration: configuration, body)
    }

    /// Runs the API on `configuration`; two runs given the same configuration and tenant are two
    /// replicas of one deployment.
    static func run<Value: Sendable>(
        configuration: APIConfiguration, tenant: String = uniqueTenant(),
        _ body: @Sendable (TestAPI) async throws -> Value
    ) async throws -> Value {
        try await APITestServer.run(configuration: configuration) { client, store in
            try await body(TestAPI(client: client, store: store, tenant: tenant))
        }
    }

    func send(
        _ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: String? = nil
    ) async throws -> APIResponse {
        var headers = headers
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(
            uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let text = String(buffer: response.body)
        return APIResponse(
            status: response.status, headers: response.headers, text: text,
            json: text.isEmpty ? nil : try? JSONValue.parse(text))
    }

    func send(
        _ method: HTTPRequest.Method, _ path: String, as user: TestUser, body: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> APIResponse {
        var headers = user.headers
        for field in extra { headers[field.name] = field.value }
        return try await send(method, path, headers: headers, body: body)
    }

    /// A user with a token naming `tenants` (this test's tenant by default) and a fresh sync session.
    func user(
        _ name: String = "alice", tenants: [String]? = nil, tenantHeader: String? = nil
    ) async throws -> TestUser {
        let claim: Any = (tenants ?? [tenant]).count == 1 ? (tenants ?? [tenant])[0] : (tenants ?? [tenant])
        let token = TestTokens.hs256(sub: name, claims: ["org_id": claim])
        var user = TestUser(name: name, token: token, tenantHeader: tenantHeader, session: "", epoch: 0)
        let response = try await send(.post, "/v1/sync/sessions", headers: user.authOnly)
        try #require(response.status == .created, "creating a sync session: \(response.text)")
        user.session = try #require(response["id"]?.stringValue)
        user.epoch = try #require(response["epoch"]?.int64Value)
        return user
    }

    /// Creates an item and returns it, failing the test unless the API answered 201.
    @discardableResult
    func create(_ kind: String, as user: TestUser, _ body: String) async throws -> JSONValue {
        let response = try await send(.post, "/v1/\(kind)", as: user, body: body)
        try #require(response.status == .created, "creating \(kind): \(response.status.code) \(response.text)")
        return try #require(response.json)
    }
}

extension JSONValue {
    var uid: String { self["uid"]?.stringValue ?? "" }
    var version: Int64 { self["version"]?.int64Value ?? -1 }
    var payload: JSONValue { self["payload"] ?? .null }
}
