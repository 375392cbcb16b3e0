/// How callers are authenticated and which tenants they may act in. Filled by the CLI from
/// `TOOLBRIDGE_*` variables; every field has a safe default.
public struct AuthConfiguration: Sendable {
    /// HS256 signing secret; nil refuses HS256 tokens.
    public var jwtSecret: String?
    /// A JWKS for RS256/ES256 tokens, fetched from a URL or read from a file.
    public var jwksURL: String?
    public var jwksFile: String?
    /// Required `iss` when set.
    public var issuer: String?
    /// Required in `aud` when set: the server's own name, so a token meant for another
    /// server (the API's for the host, the host's for the API) is refused.
    public var audience: String?
    /// The hosts whose delegated credentials the API accepts; none by default (and at the edge).
    public var delegation: DelegationTrust
    /// Secret for the signed tenant headers; nil makes tenant headers optional and unsigned.
    public var tenantSecret: String?
    /// The JWT claim listing the user's tenants (a string or an array of strings).
    public var tenantClaim: String
    /// The tenant of users whose token names none (the B2C case).
    public var defaultTenant: String
    /// Clock skew allowed on `exp` and `nbf`.
    public var leewaySeconds: Int64
    /// How far a tenant-header timestamp may be from now.
    public var tenantHeaderWindowSeconds: Int64

    public init(
        jwtSecret: String? = nil, jwksURL: String? = nil, jwksFile: String? = nil, issuer: String? = nil,
        audience: String? = nil, delegation: DelegationTrust = DelegationTrust(), tenantSecret: String? = nil, tenantClaim: String = "org_id",
        defaultTenant: String = "default", leewaySeconds: Int64 = 60, tenantHeaderWindowSeconds: Int64 = 300
    ) {
        self.jwtSecret = jwtSecret
        self.jwksURL = jwksURL
        self.jwksFile = jwksFile
        self.issuer = issuer
        self.audience = audience
        self.delegation = delegation
        self.tenantSecret = tenantSecret
        self.tenantClaim = tenantClaim
        self.defaultTenant = defaultTenant
        self.leewaySeconds = leewaySeconds
        self.tenantHeaderWindowSeconds = tenantHeaderWindowSeconds
    }
}
