import API
import Crypto
import Foundation

/// Builds JWTs by hand, so tests can make the broken ones too (expired, unsigned, forged).
public enum TestTokens {
    public static let secret = "test-secret-0123456789abcdef0123456789abcdef"
    /// The secret test hosts sign their delegated credentials with; the test APIs trust it.
    public static let delegationSecret = "test-delegation-secret-0123456789abcdef012345"

    public static func base64URL(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func json(_ object: [String: Any]) -> Data {
        try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    /// An HS256 token; `claims` are merged over `sub` and an `exp` an hour ahead.
    public static func hs256(
        sub: String = "alice", claims: [String: Any] = [:], secret: String = TestTokens.secret,
        header: [String: Any] = ["alg": "HS256", "typ": "JWT"]
    ) -> String {
        var payload: [String: Any] = ["sub": sub, "exp": Int(Date().timeIntervalSince1970) + 3600]
        for (key, value) in claims { payload[key] = value }
        let input = base64URL(json(header)) + "." + base64URL(json(payload))
        let signature = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return input + "." + base64URL(Data(signature))
    }

    /// A token with `alg: none` and no signature.
    public static func unsigned(sub: String = "alice") -> String {
        let payload: [String: Any] = ["sub": sub, "exp": Int(Date().timeIntervalSince1970) + 3600]
        return base64URL(json(["alg": "none", "typ": "JWT"])) + "." + base64URL(json(payload)) + "."
    }

    public static func now() -> Int { Int(Date().timeIntervalSince1970) }
}
