import JWTKit

/// One claim's value, as much of it as the verifier needs.
enum ClaimValue: Codable, Sendable, Equatable {
    case string(String)
    case number(Double)
    case strings([String])
    /// An object of string members, such as RFC 8693's `act` (deeper objects are `other`).
    case object([String: String])
    case other

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let list = try? container.decode([String].self) {
            self = .strings(list)
        } else if let members = try? container.decode([String: String].self) {
            self = .object(members)
        } else {
            self = .other
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        case .strings(let list): try container.encode(list)
        case .object(let members): try container.encode(members)
        case .other: try container.encodeNil()
        }
    }

    var strings: [String]? {
        switch self {
        case .string(let text): [text]
        case .strings(let list): list
        default: nil
        }
    }

    var members: [String: String]? {
        if case .object(let members) = self { return members }
        return nil
    }

    var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }
}

/// Every claim of a token by name, so the tenant claim's name can be configured.
struct TokenClaims: JWTPayload {
    var values: [String: ClaimValue]

    init(_ values: [String: ClaimValue]) {
        self.values = values
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var values: [String: ClaimValue] = [:]
        for key in container.allKeys {
            values[key.stringValue] = try container.decode(ClaimValue.self, forKey: key)
        }
        self.values = values
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            try container.encode(value, forKey: Key(stringValue: key))
        }
    }

    /// Time claims are checked by `TokenVerifier`, with its leeway, after the signature.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
