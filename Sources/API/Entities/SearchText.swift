/// The text the full-text index keeps for a live item: its title, and a body made of its
/// content, description and tags. Every kind uses the same keys; a kind without a title (a
/// comment, a chat message) is searched by its body alone.
public struct SearchText: Sendable, Equatable {
    public var title: String
    public var body: String

    static let titleKeys = ["title"]
    static let bodyKeys = ["content", "description", "tags"]

    init(payload: JSONObject) {
        title = Self.text(payload, Self.titleKeys)
        body = Self.text(payload, Self.bodyKeys)
    }

    /// The strings under `keys` (arrays of strings count, other values do not), space-separated.
    private static func text(_ payload: JSONObject, _ keys: [String]) -> String {
        var parts: [String] = []
        for key in keys {
            switch payload[key] {
            case .string(let text): parts.append(text)
            case .array(let values): parts += values.compactMap(\.stringValue)
            default: continue
            }
        }
        // PostgreSQL text cannot hold NUL, which JSON allows (`\u0000`); it separates words anyway.
        return parts.joined(separator: " ").replacing("\u{0}", with: " ")
    }
}
