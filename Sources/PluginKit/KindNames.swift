import EntityKinds

/// The API's kind names (`GET /v1/sync/info` lists them), for tools whose arguments name kinds.
public let apiKindNames: [JSONValue] = EntityKind.all.map { .string($0.name) }

/// The optional `kinds` argument of tools that work across kinds (search, insights).
public enum KindsArgument {
    public static let schema: JSONValue = [
        "type": "array", "items": ["type": "string", "enum": .array(apiKindNames)],
        "description": "Only these kinds (default: all).",
    ]

    /// `kinds=notes,tasks` for the API, or nothing when the argument is absent or empty.
    public static func query(_ arguments: JSONObject) -> [(String, String)] {
        guard let kinds = arguments["kinds"]?.arrayValue, !kinds.isEmpty else { return [] }
        return [("kinds", kinds.compactMap(\.stringValue).joined(separator: ","))]
    }
}
