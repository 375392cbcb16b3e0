/// What user and tenant identifiers may look like: they reach logs, headers and database keys.
/// Public so the stores that keep them (membership records) accept exactly what the auth layer does.
public enum Identifiers {
    /// The rule `isValidTenant` checks, as a sentence's end: "… must be <tenantRule>".
    public static let tenantRule = "1 to 128 letters, digits or the characters . _ - : @"

    public static func isValidTenant(_ text: String) -> Bool {
        guard (1...128).contains(text.utf8.count) else { return false }
        return text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: ":"), UInt8(ascii: "@"):
                true
            default: false
            }
        }
    }

    /// The rule `isValidUser` checks, as a sentence's end.
    public static let userRule = "1 to 256 bytes without control characters"

    /// Users come from identity providers with their own formats; refuse only empties, control
    /// characters and absurd lengths.
    public static func isValidUser(_ text: String) -> Bool {
        (1...256).contains(text.utf8.count) && !text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}
