import AsyncHTTPClient
import Dispatch
import JWTKit
import Logging
import NIOCore
import ServerSupport
import Synchronization
import ToolBridgeJSON

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A verified bearer token: who the caller is and which tenants the token says they belong to.
public struct VerifiedToken: Sendable, Equatable {
    public let subject: String
    /// The tenant claim's values; nil when the token has no such claim.
    public let tenants: [String]?
    /// Set when the token is a host's delegated credential rather than the user's own token.
    public let delegation: DelegatedCaller?

    init(subject: String, tenants: [String]?, delegation: DelegatedCaller? = nil) {
        self.subject = subject
        self.tenants = tenants
        self.delegation = delegation
    }
}

/// Verifies bearer JWTs. HS256 tokens are checked against the configured secret and RS256/ES256
/// tokens against the JWKS, each in its own key collection, so a token can never pick which kind
/// of key verifies it. Tokens without a configured algorithm, including `alg: none`, are refused.
/// Delegated credentials (`typ` `toolbridge-delegation+jwt`) are checked against the trusted
/// hosts' keys only, and users' tokens never against those.
public final class TokenVerifier: Sendable {
    private let configuration: AuthConfiguration
    private let userKeys: KeySet
    private let hostKeys: KeySet?

    public init(configuration: AuthConfiguration, logger: Logger) async throws {
        self.configuration = configuration
        if let secret = configuration.jwtSecret, secret.utf8.count < 32 {
            throw ConfigurationError("the JWT secret must be at least 32 bytes (256 bits) long")
        }
        userKeys = try await KeySet(
            secret: configuration.jwtSecret.map { ($0, nil) }, jwksURL: configuration.jwksURL,
            jwksFile: configuration.jwksFile, logger: logger)
        let trust = configuration.delegation
        if trust.isConfigured {
            let secret = try trust.secret.map { secret in
                let key = try DelegationKey.secret(secret).checked(against: configuration.jwtSecret)
                return (secret, Optional(JWKIdentifier(string: key.keyID)))
            }
            hostKeys = try await KeySet(secret: secret, jwksURL: trust.jwksURL, jwksFile: trust.jwksFile, logger: logger)
        } else {
            hostKeys = nil
        }
    }

    /// Signs an HS256 token with the configured secret (for `toolbridge token` and tests).
    public func issue(subject: String, tenants: [String]?, ttlSeconds: Int64, audience: [String]? = nil) async throws
        -> String
    {
        guard let hmacKeys = userKeys.hmac else {
            throw ConfigurationError("no JWT secret is configured to sign tokens with")
        }
        let now = Timestamp.nowMilliseconds() / 1000
        var claims: [String: ClaimValue] = [
            "sub": .string(subject), "iat": .number(Double(now)), "exp": .number(Double(now + ttlSeconds)),
        ]
        if let tenants { claims[configuration.tenantClaim] = tenants.count == 1 ? .string(tenants[0]) : .strings(tenants) }
        if let issuer = configuration.issuer { claims["iss"] = .string(issuer) }
        if let audience = audience ?? configuration.audience.map({ [$0] }) {
            claims["aud"] = audience.count == 1 ? .string(audience[0]) : .strings(audience)
        }
        return try await hmacKeys.sign(TokenClaims(claims))
    }

    public func verify(_ token: String) async throws(AuthError) -> VerifiedToken {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .unauthorized(.malformedToken, "the bearer token is not a JWT (header.payload.signature)") }
        guard let headerBytes = Base64URL.decode(parts[0]), let header = try? JSONValue.parse(headerBytes),
            let algorithm = header["alg"]?.stringValue
        else { throw .unauthorized(.malformedToken, "the token header is not valid base64url JSON with an 'alg'") }
        let keyID = header["kid"]?.stringValue

        guard header["typ"]?.stringValue == Delegation.tokenType else {
            let claims = try await Self.verified(token, keys: try await userKeys.keys(algorithm: algorithm, keyID: keyID))
            return try check(claims)
        }
        guard let hostKeys else {
            throw .unauthorized(.badDelegation, "delegated credentials are accepted only by an API that trusts the host's key")
        }
        let claims = try await Self.verified(token, keys: try await hostKeys.keys(algorithm: algorithm, keyID: keyID))
        return try checkDelegated(claims)
    }

    private static func verified(_ token: String, keys: JWTKeyCollection) async throws(AuthError) -> TokenClaims {
        do {
            return try await keys.verify(token, as: TokenClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .unauthorized(.badSignature, "the token signature is invalid")
        } catch let error as JWTError where error.errorType == .unknownKID || error.errorType == .missingKIDHeader {
            throw .unauthorized(.unknownKey, "the token could not be verified")
        } catch {
            throw .unauthorized(.invalidToken, "the token could not be verified")
        }
    }

    private func checkLifetime(_ claims: TokenClaims) throws(AuthError) {
        let now = Double(Timestamp.nowMilliseconds()) / 1000
        let leeway = Double(configuration.leewaySeconds)
        guard let expiry = claims.values["exp"]?.number else { throw .unauthorized(.missingClaim, "the token has no 'exp' claim") }
        guard expiry + leeway > now else { throw .unauthorized(.expired, "the token has expired") }
        if let notBefore = claims.values["nbf"]?.number, notBefore - leeway > now {
            throw .unauthorized(.notYetValid, "the token is not valid yet ('nbf' is in the future)")
        }
    }

    private func check(_ claims: TokenClaims) throws(AuthError) -> VerifiedToken {
        try checkLifetime(claims)
        if let issuer = configuration.issuer, claims.values["iss"] != .string(issuer) {
            throw .unauthorized(.wrongIssuer, "the token's issuer is not the one this server trusts")
        }
        if let audience = configuration.audience, !(claims.values["aud"]?.strings ?? []).contains(audience) {
            throw .unauthorized(.wrongAudience, "the token's audience does not include this server")
        }
        guard let subject = claims.values["sub"]?.strings?.first, Identifiers.isValidUser(subject) else {
            throw .unauthorized(.missingClaim, "the token has no usable 'sub' claim")
        }
        return VerifiedToken(subject: subject, tenants: claims.values[configuration.tenantClaim]?.strings)
    }

    /// A host's credential: short-lived, for this API, naming the user, the tenant and the host.
    private func checkDelegated(_ claims: TokenClaims) throws(AuthError) -> VerifiedToken {
        try checkLifetime(claims)
        guard let expiry = claims.values["exp"]?.number, let issuedAt = claims.values["iat"]?.number,
            expiry - issuedAt <= Double(Delegation.maximumLifetimeSeconds)
        else {
            throw .unauthorized(
                .badDelegation, "a delegated credential must carry 'iat' and live at most \(Delegation.maximumLifetimeSeconds) s")
        }
        guard claims.values["iss"] == .string(Delegation.issuer),
            (claims.values["aud"]?.strings ?? []).contains(Delegation.audience)
        else { throw .unauthorized(.badDelegation, "the delegated credential is not a ToolBridge host's credential for this API") }
        guard let subject = claims.values["sub"]?.strings?.first, Identifiers.isValidUser(subject),
            let tenant = claims.values["tenant"]?.strings?.first, Identifiers.isValidTenant(tenant),
            let actor = claims.values["act"]?.members?["sub"], Identifiers.isValidUser(actor)
        else { throw .unauthorized(.badDelegation, "the delegated credential must name a user ('sub'), a tenant and its actor ('act')") }
        return VerifiedToken(subject: subject, tenants: [tenant], delegation: DelegatedCaller(actor: actor, tenant: tenant))
    }
}

/// The keys of one kind of token: an HS256 secret and/or a JWKS, each in its own collection.
private struct KeySet: Sendable {
    let hmac: JWTKeyCollection?
    let jwks: JWKSKeys?

    init(secret: (String, JWKIdentifier?)?, jwksURL: String?, jwksFile: String?, logger: Logger) async throws {
        if let (secret, keyID) = secret {
            hmac = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: keyID)
        } else {
            hmac = nil
        }
        if jwksURL != nil || jwksFile != nil {
            jwks = try await JWKSKeys(url: jwksURL, file: jwksFile, logger: logger)
        } else {
            jwks = nil
        }
    }

    func keys(algorithm: String, keyID: String?) async throws(AuthError) -> JWTKeyCollection {
        switch algorithm {
        case "HS256":
            guard let hmac else { throw .unauthorized(.algorithmRefused, "HS256 tokens are not accepted by this server") }
            return hmac
        case "RS256", "ES256":
            guard let jwks else { throw .unauthorized(.algorithmRefused, "\(algorithm) tokens are not accepted: no JWKS is configured") }
            return await jwks.keys(forKeyID: keyID)
        case "none", "None", "NONE":
            throw .unauthorized(.algorithmRefused, "unsigned tokens (alg 'none') are refused")
        default:
            throw .unauthorized(.algorithmRefused, "the token algorithm '\(algorithm)' is not accepted")
        }
    }
}

/// The JWKS keys, reloaded from their URL when a token names a key id they do not have (at most
/// once a minute, so unknown key ids cannot make the server hammer the identity provider).
final class JWKSKeys: Sendable {
    private struct State {
        var keys: JWTKeyCollection
        var keyIDs: Set<String>
        var loadedAt: Int64
    }

    private let url: String?
    private let file: String?
    private let logger: Logger
    private let state: Mutex<State>

    init(url: String?, file: String?, logger: Logger) async throws {
        self.url = url
        self.file = file
        self.logger = logger
        let (keys, ids) = try await Self.load(url: url, file: file)
        state = Mutex(State(keys: keys, keyIDs: ids, loadedAt: Timestamp.nowMilliseconds()))
    }

    func keys(forKeyID keyID: String?) async -> JWTKeyCollection {
        let (current, known, loadedAt) = state.withLock { ($0.keys, $0.keyIDs, $0.loadedAt) }
        guard let keyID, !known.contains(keyID), url != nil,
            Timestamp.nowMilliseconds() - loadedAt > 60_000
        else { return current }
        state.withLock { $0.loadedAt = Timestamp.nowMilliseconds() }
        do {
            let (keys, ids) = try await Self.load(url: url, file: file)
            state.withLock { $0 = State(keys: keys, keyIDs: ids, loadedAt: Timestamp.nowMilliseconds()) }
            return keys
        } catch {
            logger.warning("JWKS reload failed", metadata: ["error": "\(error)"])
            return current
        }
    }

    private static func load(url: String?, file: String?) async throws -> (JWTKeyCollection, Set<String>) {
        let text: String
        if let file {
            // A blocking read: on a Dispatch thread, off Swift's cooperative pool (this target
            // has no NIO thread pool of its own, and one read at start needs no more).
            text = try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try String(contentsOfFile: file, encoding: .utf8) })
                }
            }
        } else if let url {
            let request = HTTPClientRequest(url: url)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            guard response.status == .ok else {
                throw ConfigurationError("the JWKS URL \(url) answered \(response.status.code)")
            }
            text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        } else {
            throw ConfigurationError("no JWKS URL or file is configured")
        }
        let jwks: JWKS
        do {
            jwks = try JSONDecoder().decode(JWKS.self, from: Data(text.utf8))
        } catch {
            throw ConfigurationError("the JWKS is not valid JSON Web Key Set JSON: \(error)")
        }
        let keys = try await JWTKeyCollection().add(jwks: jwks)
        return (keys, Set(jwks.keys.compactMap { $0.keyIdentifier?.string }))
    }
}
