import ArgumentParser
import Foundation
import ServerSupport
import ToolBridgeAuth
import ToolBridgeJSON

/// Makes a host's signing key for delegated credentials, and keeps the API's JWKS of trusted host
/// keys: the new public key is added beside the ones already there, so a rotation never has a
/// moment when the API refuses a host's credential.
struct DelegationKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delegation-key",
        abstract: "Create an ES256 key for the host's delegated credentials and add its public key to a JWKS file.")

    @Option(help: "Where to write the new private key (PEM, mode 0600): the host's TOOLBRIDGE_DELEGATION_KEY.")
    var privateKey: String?

    @Option(help: "The JWKS file the API trusts (TOOLBRIDGE_DELEGATION_JWKS_FILE); created, or the key is added to it.")
    var jwks: String

    @Option(help: "Remove this key id from the JWKS instead (after a rotation); repeatable. No key is created.")
    var remove: [String] = []

    func run() throws {
        var keys = try existingKeys()
        if !remove.isEmpty {
            let before = keys.count
            keys.removeAll { key in remove.contains(key["kid"]?.stringValue ?? "") }
            try write(keys)
            print("removed \(before - keys.count) key(s); \(jwks) now holds \(keys.count)")
            return
        }
        guard let privateKey else { throw ValidationError("name the new key's file with --private-key") }
        guard !FileManager.default.fileExists(atPath: privateKey) else {
            throw ValidationError("\(privateKey) exists: choose a new file, a key is never overwritten")
        }
        let key = DelegationKey.generated()
        guard case .ecdsa(let privateKeyValue) = key, let jwk = key.publicJWK else { return }
        guard FileManager.default.createFile(
            atPath: privateKey, contents: Data(privateKeyValue.pemRepresentation.utf8),
            attributes: [.posixPermissions: 0o600])
        else { throw ValidationError("cannot write \(privateKey)") }
        keys.append(jwk)
        try write(keys)
        print("key id \(key.keyID): private key in \(privateKey), public key added to \(jwks) (\(keys.count) key(s))")
    }

    private func existingKeys() throws -> [JSONValue] {
        guard let data = FileManager.default.contents(atPath: jwks) else { return [] }
        guard let keys = (try? JSONValue.parse(data))?["keys"]?.arrayValue else {
            throw ValidationError("\(jwks) is not a JWKS ({\"keys\": [...]})")
        }
        return keys
    }

    private func write(_ keys: [JSONValue]) throws {
        let text = JSONValue.object(["keys": .array(keys)]).serialized + "\n"
        let temporary = jwks + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)) else {
            throw ValidationError("cannot write \(temporary)")
        }
        // A rename, so an API reading the file never sees half of it.
        guard rename(temporary, jwks) == 0 else { throw ValidationError("cannot replace \(jwks)") }
    }
}
