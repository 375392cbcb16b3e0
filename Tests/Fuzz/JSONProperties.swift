import ToolBridgeJSON

/// The parser never traps, and what it accepts survives a round trip: parse → serialize → parse
/// gives the same value, and serializing that gives the same text.
enum JSONProperties {
    static func check(_ bytes: [UInt8]) {
        guard let value = try? JSONValue.parse(bytes) else { return }
        let text = value.serialized
        let reparsed: JSONValue
        do {
            reparsed = try JSONValue.parse(text)
        } catch {
            fatalError("property broken: the serializer wrote JSON its parser refuses (\(error)): \(text)")
        }
        require(reparsed == value, "parse(serialize(v)) != v for \(text)")
        require(reparsed.serialized == text, "serialize is not stable for \(text)")
    }
}
