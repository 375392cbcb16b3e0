/// The text the full-text index keeps for a live item: its title, and a body made of its
/// content, description and tags. Every kind uses the same keys; a kind without a title (a
/// comment, a chat message) is searched by its body alone.
public struct SearchText: Sendable, Equatable {
    public var title: String
    public var body: String

    static let titleKeys = ["title"]
    static let bodyKeys = ["content", "description", "tags"]

    /// The most UTF-8 bytes of an item's text that are indexed (title first, then body); the item
    /// itself is stored whole. PostgreSQL refuses a tsvector larger than 1 MB, and the densest text
    /// measured ("ab-cd ef-gh …", where every hyphenated word adds three lexemes) grows about
    /// 3.3 times into one: this many bytes always fit, so no write fails for being searchable.
    /// Both databases index the same prefix, so they find the same items.
    public static let maximumIndexedBytes = 200_000

    init(payload: JSONObject) {
        let title = Self.text(payload, Self.titleKeys)
        self.title = Self.prefix(title, bytes: Self.maximumIndexedBytes)
        body = Self.prefix(Self.text(payload, Self.bodyKeys), bytes: Self.maximumIndexedBytes - self.title.utf8.count)
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

    /// The longest start of `text` that is at most `bytes` UTF-8 bytes and ends between two scalars.
    static func prefix(_ text: String, bytes: Int) -> String {
        guard text.utf8.count > bytes else { return text }
        var end = text.utf8.index(text.utf8.startIndex, offsetBy: max(bytes, 0))
        while end.samePosition(in: text.unicodeScalars) == nil { end = text.utf8.index(before: end) }
        return String(text.unicodeScalars[..<end])
    }
}
