import ToolBridgeAuth
import ToolBridgeJSON

/// The operator's membership records as the API has them. The host has no database, so it asks
/// `GET /v1/auth/tenant` with its delegated credential for the user (which claims no tenant, so
/// the answer is the records alone); the edge adds the client token's claim itself. Wrapped in a
/// `CachedMembershipRecords`, this is one request per user per cache period.
public struct APIMembershipRecords: MembershipRecords {
    let proxy: RESTProxy
    /// The tenant the lookup's credential names: any tenant serves, the default is always valid.
    let lookupTenant: String

    public init(proxy: RESTProxy, lookupTenant: String) {
        self.proxy = proxy
        self.lookupTenant = lookupTenant
    }

    public func tenants(of user: String) async throws -> [String] {
        let identity = CallIdentity(user: user, tenant: lookupTenant, correlationID: "membership-lookup")
        let response = try await proxy.get("/v1/auth/tenant", as: identity)
        if response.status == 401 {
            proxy.logger.error(
                "the API refuses this host's delegated credential: check TOOLBRIDGE_DELEGATION_KEY (or _SECRET) against the keys the API trusts",
                metadata: ["answer": "\(String(decoding: response.body.prefix(300), as: UTF8.self))"])
        }
        guard response.status == 200, let answer = try? JSONValue.parse(response.body),
            let memberships = answer["memberships"]?.arrayValue
        else { throw ProxyError(kind: .unavailable, description: "the API answered the membership lookup with \(response.status)") }
        return memberships.compactMap { entry in
            entry["source"] == "record" ? entry["tenant"]?.stringValue : nil
        }
    }
}
