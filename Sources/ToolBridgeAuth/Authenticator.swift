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

/// The tenants a verified token may act in, and where each came from.
public struct Membership: Sendable, Equatable {
    /// Why a user is a member of a tenant: the token's claim names it, a membership record does,
    /// both do, or neither source names any tenant and the configured default tenant applies.
    public enum Source: String, Sendable {
        case claim, record, both
        case defaultTenant = "default"
    }

    public struct Entry: Sendable, Equatable {
        public let tenant: String
        public let source: Source
    }

    /// The claim's tenants in the claim's order, then the records' others, sorted.
    public let entries: [Entry]

    public var tenants: [String] { entries.map(\.tenant) }

    /// Where the tenants came from as a whole: `claim` or `record` when only that source named
    /// any, `both` when each did, `default` when neither did.
    public var source: Source {
        let sources = Set(entries.map(\.source))
        return sources.count == 1 ? sources.first ?? .defaultTenant : .both
    }

    /// The union of the claim's and the records' tenants; the default tenant only when both are empty.
    public init(claim: [String], records: [String], defaultTenant: String) {
        let recorded = Set(records)
        let claimed = Set(claim)
        var seen = Set<String>()
        var entries = claim.filter { seen.insert($0).inserted }.map { tenant in
            Entry(tenant: tenant, source: recorded.contains(tenant) ? .both : .claim)
        }
        entries += recorded.subtracting(claimed).sorted().map { Entry(tenant: $0, source: .record) }
        self.entries = entries.isEmpty ? [Entry(tenant: defaultTenant, source: .defaultTenant)] : entries
    }
}

/// Turns request headers into a `Caller`: verifies the bearer token, the signed tenant headers
/// (when a tenant secret is configured) and the user's membership of the tenant.
public struct Authenticator: Sendable {
    public let configuration: AuthConfiguration
    public let verifier: TokenVerifier
    /// Membership records beside the token's claim: the API reads its database, the host asks the
    /// API; nil uses the claim alone.
    public let records: (any MembershipRecords)?

    public init(configuration: AuthConfiguration, verifier: TokenVerifier, records: (any MembershipRecords)? = nil) {
        self.configuration = configuration
        self.verifier = verifier
        self.records = records
    }

    /// The same authenticator, with `records` as its membership records.
    public func with(records: any MembershipRecords) -> Authenticator {
        Authenticator(configuration: configuration, verifier: verifier, records: records)
    }

    public func token(_ headers: HTTPFields) async throws(AuthError) -> VerifiedToken {
        guard let authorization = headers[.authorization] else {
            throw .unauthorized(.missingToken, "missing bearer token: send 'Authorization: Bearer <JWT>'")
        }
        let prefix = "bearer "
        guard authorization.count > prefix.count, authorization.prefix(prefix.count).lowercased() == prefix else {
            throw .unauthorized(.malformedToken, "the Authorization header must be 'Bearer <JWT>'")
        }
        return try await verifier.verify(String(authorization.dropFirst(prefix.count)).trimmingWhitespace())
    }

    /// The claim's tenants and the records' tenants together. When the records cannot be read the
    /// answer is a 503, never a guess: the default tenant would take in a user whom the records
    /// place elsewhere, and the claim alone would answer an incomplete list of tenants. A host's
    /// delegated credential claims nothing: asked with one, the answer is the records alone (the
    /// host adds the client token's claim itself).
    public func membership(of token: VerifiedToken) async throws(AuthError) -> Membership {
        let claimed = token.delegation == nil ? (token.tenants ?? []).filter(Identifiers.isValidTenant) : []
        var recorded: [String] = []
        if let records {
            do {
                recorded = try await records.tenants(of: token.subject).filter(Identifiers.isValidTenant)
            } catch {
                throw AuthError(
                    .serviceUnavailable,
                    "the membership records cannot be read right now (the database or the API is not reachable); retry shortly",
                    reason: .membershipUnavailable)
            }
        }
        return Membership(claim: claimed, records: recorded, defaultTenant: configuration.defaultTenant)
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
                throw .forbidden(.badDelegation, "the tenant headers name '\(requested)' but the delegated credential is for '\(delegation.tenant)'")
            }
            return Caller(user: token.subject, tenant: delegation.tenant, memberships: [delegation.tenant], actor: delegation.actor)
        }
        let membership = try await membership(of: token)
        let tenant: String
        if let requested {
            guard membership.tenants.contains(requested) else {
                throw .forbidden(.notMember, "user '\(token.subject)' is not a member of tenant '\(requested)'")
            }
            tenant = requested
        } else if membership.tenants.count == 1 {
            tenant = membership.tenants[0]
        } else {
            throw .badRequest(
                .noTenant, "this user belongs to several tenants (\(membership.tenants.joined(separator: ", "))): "
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
            throw .unauthorized(.missingTenantHeaders, "signed tenant headers are required: X-TB-Tenant-ID, X-TB-Timestamp, X-TB-Signature")
        }
        guard Identifiers.isValidTenant(tenant) else { throw Self.invalidTenant }
        guard let timestampMs = Int64(timestamp) else {
            throw .unauthorized(.badTenantHeader, "X-TB-Timestamp must be unix time in milliseconds")
        }
        // Compared as a range around now, so no value of the header can overflow the arithmetic.
        let window = configuration.tenantHeaderWindowSeconds * 1000
        let now = Timestamp.nowMilliseconds()
        guard timestampMs >= now - window, timestampMs <= now + window else {
            throw .unauthorized(
                .badTenantHeader, "X-TB-Timestamp is outside the accepted window of ±\(configuration.tenantHeaderWindowSeconds) s")
        }
        guard TenantSignature.isValid(signature: signature, secret: secret, tenant: tenant, timestampMs: timestampMs)
        else { throw .unauthorized(.badTenantSignature, "the tenant signature (X-TB-Signature) is invalid") }
        return tenant
    }

    private static let invalidTenant = AuthError.badRequest(.badTenantHeader, "X-TB-Tenant-ID must be \(Identifiers.tenantRule)")
}
