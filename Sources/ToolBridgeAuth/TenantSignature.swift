import Crypto

/// The signed tenant headers: `X-TB-Signature` is the lowercase hex HMAC-SHA256 of
/// `"{tenant}:{timestamp}"` under the shared tenant secret.
public enum TenantSignature {
    public static func sign(secret: String, tenant: String, timestampMs: Int64) -> String {
        let code = HMAC<SHA256>.authenticationCode(
            for: Array("\(tenant):\(timestampMs)".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return code.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Compares in constant time (swift-crypto's `isValidAuthenticationCode`).
    static func isValid(signature: String, secret: String, tenant: String, timestampMs: Int64) -> Bool {
        guard let bytes = hexBytes(signature), bytes.count == SHA256.byteCount else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(
            bytes, authenticating: Array("\(tenant):\(timestampMs)".utf8),
            using: SymmetricKey(data: Array(secret.utf8)))
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
