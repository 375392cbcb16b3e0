import HTTPTypes

/// Why a request's caller was refused: the status to answer with (400, 401 or 403), a sentence
/// safe to show the caller, and a reason from a fixed vocabulary for metrics. The API answers it
/// as an `APIError`, the Host as a `HostHTTPError`.
public struct AuthError: Error, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String
    public let reason: Reason

    public init(_ status: HTTPResponse.Status, _ message: String, reason: Reason) {
        self.status = status
        self.message = message
        self.reason = reason
    }

    public var description: String { "\(status.code) \(message)" }

    static func badRequest(_ reason: Reason, _ message: String) -> AuthError { AuthError(.badRequest, message, reason: reason) }
    static func unauthorized(_ reason: Reason, _ message: String) -> AuthError {
        AuthError(.unauthorized, message, reason: reason)
    }
    static func forbidden(_ reason: Reason, _ message: String) -> AuthError { AuthError(.forbidden, message, reason: reason) }

    /// What was wrong, as the `reason` label of `toolbridge_auth_failures_total`: a closed set, so
    /// nothing a client sends becomes a label value.
    public struct Reason: Sendable, Hashable, CustomStringConvertible {
        public let description: String
        private init(_ name: String) { description = name }

        /// No `Authorization` header.
        public static let missingToken = Reason("missing_token")
        /// Not `Bearer <JWT>`, not three base64url parts, or a header without `alg`.
        public static let malformedToken = Reason("malformed_token")
        /// An algorithm this server does not accept (`none`, or one with no key configured).
        public static let algorithmRefused = Reason("algorithm_refused")
        public static let badSignature = Reason("bad_signature")
        /// The token names a key id the configured keys do not have.
        public static let unknownKey = Reason("unknown_key")
        /// The signature checked out but the claims could not be read.
        public static let invalidToken = Reason("invalid_token")
        public static let expired = Reason("expired")
        /// `nbf` in the future.
        public static let notYetValid = Reason("not_yet_valid")
        /// No `exp` or no usable `sub`.
        public static let missingClaim = Reason("missing_claim")
        public static let wrongIssuer = Reason("wrong_issuer")
        public static let wrongAudience = Reason("wrong_audience")
        /// A host's delegated credential that is not acceptable (not trusted here, too long-lived,
        /// not for this API, incomplete, or for another tenant than the headers name).
        public static let badDelegation = Reason("bad_delegation")
        /// Signed tenant headers required and absent.
        public static let missingTenantHeaders = Reason("missing_tenant_headers")
        /// `X-TB-Tenant-ID` not a tenant name, or `X-TB-Timestamp` not a number or outside the window.
        public static let badTenantHeader = Reason("bad_tenant_header")
        /// `X-TB-Signature` does not match: a forged or mis-signed tenant header.
        public static let badTenantSignature = Reason("bad_tenant_signature")
        /// The user is not a member of the tenant named.
        public static let notMember = Reason("not_member")
        /// The user belongs to several tenants and named none.
        public static let noTenant = Reason("no_tenant")
        /// The membership records could not be read (a 503).
        public static let membershipUnavailable = Reason("membership_unavailable")
    }
}
