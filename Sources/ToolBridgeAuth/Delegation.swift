import Crypto
import JWTKit
import ToolBridgeJSON
import ServerSupport
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What makes a delegated credential: the host's own short-lived token for the API, carrying the
/// user, the tenant and the host as actor (RFC 8693 `act`). The client's token is meant for the
/// host and never leaves it (MCP authorization: no token passthrough).
public enum Delegation {
    /// The JWT `typ` of delegated credentials. The verifier routes on it: tokens of this type are
    /// checked only against the hosts' keys, all others only against the users' keys, so neither
    /// kind of token can stand in for the other.
    public static let tokenType = "toolbridge-delegation+jwt"
    public static let issuer = "toolbridge-host"
    public static let audience = "toolbridge-api"
    /// How long a delegated credential lives, and the longest lifetime the API accepts.
    public static let lifetimeSeconds: Int64 = 300
    public static let maximumLifetimeSeconds: Int64 = 600
}

/// The key a host signs delegated credentials with.
public enum DelegationKey: Sendable {
    /// HS256 with a secret shared by host and API (single-process `serve`, or both given the same
    /// `TOOLBRIDGE_DELEGATION_SECRET`); never the user-token secret.
    case secret(String)
    /// ES256: only the host holds the private key; the API trusts its public key (a JWKS).
    case ecdsa(ES256PrivateKey)

    /// Reads a PEM P-256 private key (`toolbridge delegation-key` writes one; so does
    /// `openssl ecparam -name prime256v1 -genkey -noout`).
    public static func privateKey(pem: String) throws -> DelegationKey {
        do {
            return .ecdsa(try ES256PrivateKey(pem: pem))
        } catch {
            throw ConfigurationError("the delegation key is not a PEM P-256 (ES256) private key")
        }
    }

    /// A new ES256 key.
    public static func generated() -> DelegationKey { .ecdsa(ES256PrivateKey()) }

    /// A 256-bit random secret, for a `serve` process whose host and API share memory.
    public static func randomSecret() -> DelegationKey {
        .secret(SymmetricKey(size: .bits256).withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() })
    }

    /// The key id: the RFC 7638 thumbprint of an ES256 public key; for a secret, a digest that
    /// names it without revealing it.
    public var keyID: String {
        switch self {
        case .secret(let secret):
            Base64URL.encode(Array(SHA256.hash(data: Array(("toolbridge-delegation:" + secret).utf8))).prefix(16))
        case .ecdsa(let key): Self.thumbprint(key.publicKey)
        }
    }

    /// The public half as a JWK the API can trust (nil for a shared secret).
    public var publicJWK: JSONValue? {
        guard case .ecdsa(let key) = self, let parameters = key.publicKey.parameters else { return nil }
        return [
            "kty": "EC", "crv": "P-256", "x": .string(parameters.x), "y": .string(parameters.y),
            "kid": .string(keyID), "alg": "ES256", "use": "sig",
        ]
    }

    static func thumbprint(_ key: ES256PublicKey) -> String {
        guard let parameters = key.parameters else { return "" }
        let canonical = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"\(parameters.x)\",\"y\":\"\(parameters.y)\"}"
        return Base64URL.encode(Array(SHA256.hash(data: Array(canonical.utf8))))
    }

    func checked(against userSecret: String?) throws -> DelegationKey {
        if case .secret(let secret) = self {
            guard secret.utf8.count >= 32 else {
                throw ConfigurationError("the delegation secret must be at least 32 bytes (256 bits) long")
            }
            guard secret != userSecret else {
                throw ConfigurationError("the delegation secret must differ from the JWT secret users' tokens are signed with")
            }
        }
        return self
    }
}

/// Signs the host's delegated credentials, one per (tenant, user), and keeps each until a minute
/// before it expires: a tool call costs a dictionary lookup, and a signature only every four
/// minutes per active user.
public final class DelegatedCredentials: Sendable {
    private struct Key: Hashable {
        let tenant: String
        let user: String
    }

    private struct Entry {
        let token: String
        let renewAtMs: Int64
    }

    /// Who acts: the host's name in `act.sub` (its replica id, or `toolbridge-host`).
    public let actor: String
    public let keyID: String
    private let keys: JWTKeyCollection
    private let cache = Mutex<[Key: Entry]>([:])
    private static let capacity = 10_000

    public init(key: DelegationKey, actor: String, userSecret: String?) async throws {
        let key = try key.checked(against: userSecret)
        self.actor = actor
        keyID = key.keyID
        switch key {
        case .secret(let secret):
            keys = await JWTKeyCollection().add(
                hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: JWKIdentifier(string: keyID))
        case .ecdsa(let privateKey):
            keys = await JWTKeyCollection().add(ecdsa: privateKey, kid: JWKIdentifier(string: keyID))
        }
    }

    /// The credential for `user` acting in `tenant`.
    public func token(user: String, tenant: String) async throws -> String {
        let key = Key(tenant: tenant, user: user)
        let now = Timestamp.nowMilliseconds()
        if let entry = cache.withLock({ $0[key] }), entry.renewAtMs > now { return entry.token }
        let issuedAt = now / 1000
        let claims = TokenClaims([
            "iss": .string(Delegation.issuer), "aud": .string(Delegation.audience), "sub": .string(user),
            "tenant": .string(tenant), "act": .object(["sub": actor]),
            "iat": .number(Double(issuedAt)), "exp": .number(Double(issuedAt + Delegation.lifetimeSeconds)),
        ])
        var header = JWTHeader()
        header.typ = Delegation.tokenType
        let token = try await keys.sign(claims, kid: JWKIdentifier(string: keyID), header: header)
        let renewAt = now + (Delegation.lifetimeSeconds - 60) * 1000
        cache.withLock { cache in
            if cache.count >= Self.capacity { cache.removeAll(keepingCapacity: true) }
            cache[key] = Entry(token: token, renewAtMs: renewAt)
        }
        return token
    }
}

/// The hosts the API trusts to delegate: a shared secret and/or a JWKS of host public keys.
public struct DelegationTrust: Sendable {
    public var secret: String?
    public var jwksURL: String?
    public var jwksFile: String?

    public init(secret: String? = nil, jwksURL: String? = nil, jwksFile: String? = nil) {
        self.secret = secret
        self.jwksURL = jwksURL
        self.jwksFile = jwksFile
    }

    public var isConfigured: Bool { secret != nil || jwksURL != nil || jwksFile != nil }
}

/// A host's delegation, as the API verified it.
public struct DelegatedCaller: Sendable, Equatable {
    /// The host that acts (`act.sub`).
    public let actor: String
    /// The tenant the host resolved for the user.
    public let tenant: String
}
