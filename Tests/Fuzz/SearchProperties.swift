@testable import API

/// A search expression never traps, and what reaches a database is plain words: every word is
/// non-empty, made of letters, digits and marks only (so no quote can end the quoting the
/// renderer puts around it), within the length and count limits.
enum SearchProperties {
    static func check(_ text: String) {
        guard let expression = try? SearchExpression.parse(text) else { return }
        require(!expression.groups.isEmpty, "an expression without a group to match was accepted: \(text)")
        var words = 0
        for term in expression.groups.flatMap({ $0 }) + expression.excluded {
            let termWords: [String]
            switch term {
            case .word(let word): termWords = [word]
            case .phrase(let phrase): termWords = phrase
            }
            require(!termWords.isEmpty, "an empty phrase was accepted: \(text)")
            for word in termWords {
                require(!word.isEmpty, "an empty word was accepted: \(text)")
                require(
                    word.unicodeScalars.allSatisfy(SearchExpression.isWordScalar),
                    "the word \(Array(word.unicodeScalars)) carries a separator into the query: \(text)")
                require(
                    word.unicodeScalars.count <= SearchExpression.maximumWordLength,
                    "a word longer than the limit was accepted: \(text)")
            }
            words += termWords.count
        }
        require(words <= SearchExpression.maximumWords, "more words than the limit were accepted: \(text)")
        for dialect in [SQLDialect.postgres, .sqlite] {
            let rendered = SQLItemStore<SQLiteDatabase>.rendered(expression, for: dialect)
            let syntax = rendered.unicodeScalars.filter { !SearchExpression.isWordScalar($0) }
            require(
                syntax.allSatisfy { "'\"():*|&!<-> ".unicodeScalars.contains($0) },
                "the \(dialect) query holds more than words and operators: \(rendered)")
        }
    }
}
