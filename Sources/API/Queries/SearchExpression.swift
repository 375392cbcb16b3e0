/// A search query, parsed by the API rather than handed to a database's own query syntax, so
/// nothing a user types can be a syntax error inside PostgreSQL or FTS5: both are given queries
/// built from plain words only.
///
/// The syntax: words (each matches as a prefix: `meet` finds "meeting"), `"exact phrases"`,
/// `OR` between two terms, and `-term` or `NOT term` to exclude. Every other character
/// separates words. All terms must match unless joined by `OR`.
public struct SearchExpression: Sendable, Equatable {
    /// Every group must match; a group matches when any of its terms does.
    public var groups: [[SearchTerm]]
    /// No excluded term may match.
    public var excluded: [SearchTerm]

    public static let maximumLength = 1000
    public static let maximumWords = 32
    public static let maximumWordLength = 100

    public static func parse(_ text: String) throws(APIError) -> SearchExpression {
        // Lengths count Unicode scalars, not grapheme clusters: one cluster can hold any number of
        // scalars, and the engines limit words by their bytes (PostgreSQL: 2,047).
        let length = text.unicodeScalars.count
        guard length <= maximumLength else {
            throw .badRequest("the query is \(length) characters long; the limit is \(maximumLength)")
        }
        var expression = SearchExpression(groups: [], excluded: [])
        var wordCount = 0
        var joinsPrevious = false
        var negates = false
        for token in try tokens(text) {
            if !token.quoted, token.text == "OR" {
                joinsPrevious = !expression.groups.isEmpty
                continue
            }
            if !token.quoted, token.text == "AND" { continue }
            if !token.quoted, token.text == "NOT" {
                negates = true
                continue
            }
            var text = Substring(token.text)
            if !token.quoted, text.hasPrefix("-") {
                negates = true
                text = text.drop { $0 == "-" }
                // `-"a phrase"`: the minus is a token of its own, and negates the next one.
                if text.isEmpty { continue }
            }
            let words = text.lowercased().unicodeScalars.split { !Self.isWordScalar($0) }
                .map { String(String.UnicodeScalarView($0)) }
            defer {
                negates = false
                if !words.isEmpty { joinsPrevious = false }
            }
            guard !words.isEmpty else { continue }
            if let long = words.first(where: { $0.unicodeScalars.count > maximumWordLength }) {
                throw .badRequest(
                    "the query has a word of \(long.unicodeScalars.count) characters; words may be at most \(maximumWordLength)")
            }
            wordCount += words.count
            guard wordCount <= maximumWords else {
                throw .badRequest("the query has more than \(maximumWords) words; search for fewer")
            }
            let term: SearchTerm = token.quoted || words.count > 1 ? .phrase(words) : .word(words[0])
            if negates {
                expression.excluded.append(term)
            } else if joinsPrevious {
                expression.groups[expression.groups.count - 1].append(term)
            } else {
                expression.groups.append([term])
            }
        }
        guard !expression.groups.isEmpty else {
            throw .badRequest(
                expression.excluded.isEmpty
                    ? "the query has no words to search for"
                    : "the query only excludes words; add at least one word to search for")
        }
        return expression
    }

    /// Letters, digits and combining marks make words; every other scalar separates them. Words
    /// are read scalar by scalar, not by grapheme cluster: a cluster can hold a quote behind a
    /// letter (U+0D4E followed by `'` is one `Character`), and no quote may reach a query.
    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isAlphabetic { return true }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    /// Whitespace-separated tokens, a double-quoted phrase being one token.
    private static func tokens(_ text: String) throws(APIError) -> [(text: String, quoted: Bool)] {
        var tokens: [(text: String, quoted: Bool)] = []
        var current = String.UnicodeScalarView()
        var inQuotes = false
        func flush(quoted: Bool) {
            if !current.isEmpty || quoted { tokens.append((String(current), quoted)) }
            current = String.UnicodeScalarView()
        }
        for scalar in text.unicodeScalars {
            if scalar == "\"" {
                flush(quoted: inQuotes)
                inQuotes.toggle()
            } else if !inQuotes, scalar.properties.isWhitespace {
                flush(quoted: false)
            } else {
                current.append(scalar)
            }
        }
        guard !inQuotes else { throw .badRequest("the query opens a quoted phrase (\") that it never closes") }
        flush(quoted: false)
        return tokens
    }
}

/// One searched term: a word, matched as a prefix, or a phrase, matched exactly in order.
public enum SearchTerm: Sendable, Equatable {
    case word(String)
    case phrase([String])
}

/// What `GET /v1/search` asked for.
public struct SearchQuery: Sendable {
    public var expression: SearchExpression
    public var kinds: [EntityKind]
    public var limit: Int
    public var offset: Int

    public init(expression: SearchExpression, kinds: [EntityKind], limit: Int, offset: Int) {
        self.expression = expression
        self.kinds = kinds
        self.limit = limit
        self.offset = offset
    }
}

/// A found item: its kind, the item itself, its relevance (higher is better; comparable only
/// within one result list) and a snippet with the matched words between `**` marks.
public struct SearchHit: Sendable {
    public let kind: EntityKind
    public let item: StoredItem
    public let score: Double
    public let snippet: String
}
