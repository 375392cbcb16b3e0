/// Who a tool call acts for. The host fills it from the verified MCP request (or the CLI) and
/// the REST proxy puts it on every API request the call makes.
public struct CallIdentity: Sendable, Hashable {
    public let user: String
    public let tenant: String
    /// The bearer token forwarded to the API; the API verifies it again.
    public let bearerToken: String
    public let correlationID: String

    public init(user: String, tenant: String, bearerToken: String, correlationID: String) {
        self.user = user
        self.tenant = tenant
        self.bearerToken = bearerToken
        self.correlationID = correlationID
    }
}
