import Crypto
import ServerSupport

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A signing secret kept in the data directory for development, so a fresh clone runs with no
/// configuration. Production sets `TOOLBRIDGE_JWT_SECRET` or a JWKS instead.
public enum DevelopmentSecret {
    public static func path(dataDirectory: String, name: String = "toolbridge-dev-secret") -> String {
        dataDirectory + "/" + name
    }

    /// Reads the secret, creating it (256 random bits, mode 0600) on first use.
    public static func loadOrCreate(dataDirectory: String, name: String = "toolbridge-dev-secret") throws -> String {
        let path = path(dataDirectory: dataDirectory, name: name)
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            let trimmed = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.count >= 32 { return trimmed }
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { bytes in
            bytes.map { String(format: "%02x", $0) }.joined()
        }
        guard FileManager.default.createFile(
            atPath: path, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else { throw ConfigurationError("cannot write the development secret to \(path)") }
        return secret
    }
}
