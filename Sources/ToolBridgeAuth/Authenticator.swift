import HTTPTypes
import ServerSupport

extension HTTPField.Name {
    /// The tenant a request acts in, and (with a tenant secret) when and how it was signed.
    public static let tenantID = HTTPField.Name("X-TB-Tenant-ID")!
    public static let tenantTimestamp = HTTPField.Name("X-TB-Timestamp")!
    public static let tenantSignature = HTTPField.Name("X-TB-Signature")!
}

/// The authenticated caller of a request: the user, the tenant it acts in, and its memberships.
public struct Caller: Sendable, Equatable {
    public let user: String
    public let tenant: String
    public let memberships: [String]
    /// The host acting for the user when the request came with its delegated credential; nil when
    /// the user called with their own token.
    public let actor: String?

    /// How the caller authenticated, for logs: never the token itself.
    public var credential: String { actor.map { "delegated by \($0)" } ?? "user token" }
}

/// The tenants a verified token may act in.
public struct Membership: Sendable, Equatable {
    public let tenants: [String]
    /// True when the tenants came from the token's claim, false when the default tenant applied.
    public let fromClaim: Bool
}

/// Turns request headers into a `Caller`: verifies the bearer token, the signed tenant headers
/// (when a tenant secret is configured) and the user's membership of the tenant.
public struct Authenticator: Sendable {
    public let configuration: AuthConfiguration
    public let verifier: TokenVerifier

    public init(configuration: AuthConfiguration, verifier: TokenVerifier) {
        self.configuration = configuration
        self.verifier = verifier
    }

    public func token(_ headers: HTTPFields) async throws(AuthError) -> VerifiedToken {
        guard let authorization = headers[.authorization] else {
            throw .unauthorized("missing bearer token: send 'Authorization: Bearer <JWT>'")
        }
        let prefix = "bearer "
        guard authorization.count > prefix.count, authorization.prefix(prefix.count).lowercased() == prefix else {
            throw .unauthorized("the Authorization header must be 'Bearer <JWT>'")
        }
        return try await verifier.verify(String(authorization.dropFirst(prefix.count)).trimmingWhitespace())
    }

    public func membership(of token: VerifiedToken) -> Membership {
        let claimed = (token.tenants ?? []).filter(Identifiers.isValidTenant)
        if claimed.isEmpty { return Membership(tenants: [configuration.defaultTenant], fromClaim: false) }
        return Membership(tenants: claimed, fromClaim: true)
    }

    /// The caller of a direct API request: the tenant it names must carry a valid signature when a
    /// tenant secret is configured (the host signs its own calls; direct API clients sign theirs).
    public func caller(_ headers: HTTPFields) async throws(AuthError) -> Caller {
        try await caller(headers, tenant: try signedTenant(headers))
    }

    /// The caller at the MCP edge: an MCP client holds a bearer token and nothing else, so it names
    /// one of its own tenants in a plain `X-TB-Tenant-ID`. Membership is still checked.
    public func edgeCaller(_ headers: HTTPFields) async throws(AuthError) -> Caller {
        try await caller(headers, tenant: try plainTenant(headers))
    }

    private func caller(_ headers: HTTPFields, tenant requested: String?) async throws(AuthError) -> Caller {
        let token = try await token(headers)
        if let delegation = token.delegation {
            // The host checked the user's membership before it delegated; the tenant it names in
            // the headers (signed, with a tenant secret) must be the one it signed into the token.
            if let requested, requested != delegation.tenant {
                throw .forbidden("the tenant headers name '\(requested)' but the delegated credential is for '\(delegation.tenant)'")
            }
            return Caller(user: token.subject, tenant: delegation.tenant, memberships: [delegation.tenant], actor: delegation.actor)
        }
        let membership = membership(of: token)
        let tenant: String
        if let requested {
            guard membership.tenants.contains(requested) else {
                throw .forbidden("user '\(token.subject)' is not a member of tenant '\(requested)'")
            }
            tenant = requested
        } else if membership.tenants.count == 1 {
            tenant = membership.tenants[0]
        } else {
            throw .badRequest(
                "this user belongs to several tenants (\(membership.tenants.joined(separator: ", "))): "
                    + "name one in X-TB-Tenant-ID")
        }
        return Caller(user: token.subject, tenant: tenant, memberships: membership.tenants, actor: nil)
    }

    private func plainTenant(_ headers: HTTPFields) throws(AuthError) -> String? {
        guard let tenant = headers[.tenantID] else { return nil }
        guard Identifiers.isValidTenant(tenant) else { throw Self.invalidTenant }
        return tenant
    }

    /// The tenant the request names, checked against its signature when a tenant secret is set.
    private func signedTenant(_ headers: HTTPFields) throws(AuthError) -> String? {
        guard let secret = configuration.tenantSecret else { return try plainTenant(headers) }
        guard let tenant = headers[.tenantID], let timestamp = headers[.tenantTimestamp],
            let signature = headers[.tenantSignature]
        else {
            throw .unauthorized("signed tenant headers are required: X-TB-Tenant-ID, X-TB-Timestamp, X-TB-Signature")
        }
        guard Identifiers.isValidTenant(tenant) else { throw Self.invalidTenant }
        guard let timestampMs = Int64(timestamp) else {
            throw .unauthorized("X-TB-Timestamp must be unix time in milliseconds")
        }
        // Compared as a range around now, so no value of the header can overflow the arithmetic.
        let window = configuration.tenantHeaderWindowSeconds * 1000
        let now = Timestamp.nowMilliseconds()
        guard timestampMs >= now - window, timestampMs <= now + window else {
            throw .unauthorized(
                "X-TB-Timestamp is outside the accepted window of ±\(configuration.tenantHeaderWindowSeconds) s")
        }
        guard TenantSignature.isValid(signature: signature, secret: secret, tenant: tenant, timestampMs: timestampMs)
        else { throw .unauthorized("the tenant signature (X-TB-Signature) is invalid") }
        return tenant
    }

    private static let invalidTenant = AuthError.badRequest(
        "X-TB-Tenant-ID must be 1 to 128 letters, digits or the characters . _ - : @")
}
