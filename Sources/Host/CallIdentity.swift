/// Who a tool call acts for. The host fills it from the verified MCP request (or the CLI); the
/// REST proxy calls the API for this user and tenant with the host's own delegated credential,
/// never with the client's token.
public struct CallIdentity: Sendable, Hashable {
    public let user: String
    public let tenant: String
    public let correlationID: String

    public init(user: String, tenant: String, correlationID: String) {
        self.user = user
        self.tenant = tenant
        self.correlationID = correlationID
    }
}
