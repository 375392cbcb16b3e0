import Testing
import ToolBridgeJSON

/// The parser against the cases of Nicolas Seriot's JSONTestSuite (its `y_`, `n_` and `i_`
/// categories), written out here: `y_` must parse, `n_` must be refused with an offset,
/// `i_` may go either way but never crash, and whatever parses must survive a round trip
/// through the writer unchanged. The JSON library is on every hot path and every payload.
@Suite("JSONTestSuite")
struct JSONTestSuiteTests {
    static let accepted: [String] = [
        "[[]   ]", "[\"\"]", "[]", "[\"a\"]", "[false]", "[null, 1, \"1\", {}]", "[null]", "[1\n]", " [1]",
        "[1,null,null,null,2]", "[2] ", "[123e65]", "[0e+1]", "[0e1]", "[ 4]",
        "[-0.000000000000000000000000000000000000000000000000000000000000000000000000000001]\n", "[20e1]", "[-0]",
        "[-123]", "[-1]", "[-0]", "[1E22]", "[1E-2]", "[1E+2]", "[123e45]", "[123.456e78]", "[1e-2]", "[1e+2]",
        "[123]", "[123.456789]", "{\"asd\":\"sdf\", \"dfg\":\"fgh\"}", "{\"asd\":\"sdf\"}", "{\"a\":\"b\",\"a\":\"c\"}",
        "{\"a\":\"b\",\"a\":\"b\"}", "{}", "{\"\":0}", "{\"foo\\u0000bar\": 42}", "{ \"min\": -1.0e+28, \"max\": 1.0e+28 }",
        "{\"x\":[{\"id\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}], \"id\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
        "{\"a\":[]}", "{\"title\":\"\\u041f\\u043e\\u043b\\u0442\\u043e\\u0440\\u0430 \\u0417\\u0435\\u043c\\u043b\\u0435\\u043a\\u043e\\u043f\\u0430\" }",
        "{\n\"a\": \"b\"\n}", "[\"\\u0060\\u012a\\u12AB\"]", "[\"\\uD801\\udc37\"]", "[\"\\ud83d\\ude39\\ud83d\\udc8d\"]",
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[\"\\\\u0000\"]", "[\"\\\"\"]", "[\"a/*b*/c/*d//e\"]", "[\"\\\\a\"]", "[\"\\\\n\"]",
        "[\"\\u0012\"]", "[\"\\uFFFF\"]", "[\"asd\"]", "[ \"asd\"]", "[\"\\uDBFF\\uDFFF\"]", "[\"new\\u00A0line\"]",
        "[\"\u{10000}\"]", "[\"\\u0000\"]", "[\"\\u002c\"]", "[\"π\"]", "[\"asd \"]", "\" \"", "[\"\\uD834\\uDd1e\"]",
        "[\"\\u0821\"]", "[\"\\u0123\"]", "[\"\u{2028}\"]", "[\"\u{2029}\"]", "[\"\\u0061\\u30af\\u30EA\\u30b9\"]",
        "[\"new\\u000Aline\"]", "[\"\u{7F}\"]", "[\"\\uA66D\"]", "[\"\\u005C\"]", "[\"⍂㈴⍂\"]", "[\"\\uDBFF\\uDFFE\"]",
        "[\"\\uD83F\\uDFFE\"]", "[\"\\u200B\"]", "[\"\\u2064\"]", "[\"\\uFDD0\"]", "[\"\\uFFFE\"]", "[\"\\u0022\"]",
        "[\"€𝄞\"]", "[\"aa\"]", "false", "42", "-0.1", "null", "\"asd\"", "true", "\"\"", "[\"a\"]\n", "[true]",
        " [] ", "[1,\n1\n,1]", "{\"a\":\"b\"}\n", "[\"\\u00e9\"]", "[\"é\"]", "\"\\uD834\\uDD1E\"",
    ]

    static let refused: [String] = [
        "[1 true]", "[a\u{e5}]", "[\"\": 1]", "[\"\"],", "[,1]", "[1,,2]", "[\"x\",,]", "[\"x\"]]", "[\"\",]", "[\"x\"",
        "[x", "[3[4]]", "[1:2]", "[,]", "[-]", "[   , \"\"]", "[\"a\",\n4\n,1,", "[1,]", "[1,,]", "[\"\\va\"]", "[*]",
        "[\"\"", "[1,", "[1,\n1\n,1", "[{}", "[\"a\" \"b\"]", "[{]", "[++1234]", "[+1]", "[+Inf]", "[-01]", "[-1.0.]",
        "[-2.]", "[-NaN]", "[.-1]", "[.2e-3]", "[0.1.2]", "[0.3e+]", "[0.3e]", "[0.e1]", "[0E+]", "[0E]", "[0e+]",
        "[0e]", "[1.0e+]", "[1.0e-]", "[1.0e]", "[1 000.0]", "[1eE2]", "[2.e+3]", "[2.e-3]", "[2.e3]", "[9.e+]",
        "[Inf]", "[NaN]", "[\u{FF11}]", "[1+2]", "[0x1]", "[0x42]", "[Infinity]", "[0e+-1]", "[-123.123foo]",
        "[-Infinity]", "[-foo]", "[- 1]", "[-012]", "[-.123]", "[-1x]", "[1ea]", "[1.]", "[.123]", "[1.2a-3]",
        "[1.8011670033376514H-308]", "[012]", "{\"x\", null}", "{\"x\"::\"b\"}", "{🇨🇭}", "{\"a\":\"a\" 123}",
        "{key: 'value'}", "{\"a\" b}", "{:\"b\"}", "{\"a\" \"b\"}", "{\"a\":", "{\"a\"", "{1:1}", "{9999E9999:1}",
        "{null:null,null:null}", "{\"id\":0,,,,,}", "{'a':0}", "{\"id\":0,}", "{\"a\":\"b\"}/**/", "{\"a\":\"b\"}/**//",
        "{\"a\":\"b\"}//", "{\"a\":\"b\"}/", "{\"a\":\"b\",,\"c\":\"d\"}", "{a: \"b\"}", "{\"a\":\"a", "{ \"foo\" : \"bar\", \"a\" }",
        "{\"a\":\"b\"}#", "{\"a\":true} \"x\"", "[\"\\uD800\\\"]", "[\"\\uD800\\u\"]", "[\"\\uD800\\u1\"]",
        "[\"\\uD800\\u1x\"]", "[é]", "[\"\\x00\"]", "[\"\\\\\\\"]", "[\"\\\t\"]", "[\"\\🌀\"]", "[\"\\\"]", "[\"\\u00A\"]",
        "[\"\\uD834\\uDd\"]", "[\"\\uD800\\uD800\\x\"]", "[\"\\a\"]", "[\"\\uqqqq\"]", "[\"\\ὰ\"]", "[\\u0020\"asd\"]",
        "[\\n]", "\"", "['single quote']", "abc", "[\"\\", "[\"a\u{0}a\"]", "[\"new\nline\"]", "[\"\t\"]", "\"\\UA66D\"",
        "\"\"x", "<.>", "[<null>]", "[1]x", "[1]]", "[\"asd]", "a\u{e5}", "[\"ab\"]x", "[]]", "[][]", "[1] [2]", "2@", "}",
        "{}}", "a", "[", "{", "nul", "tru", "[nul]", "[tru]", "[fals]", "[True]", "[\"a\",", "[\u{2060}]", "",
        " ", "\u{FEFF}", "\u{FEFF}{}", "[\u{0}]", "123\u{0}", "[1]\u{0}", "{\"a\":\"b\"}}", "[\"\u{1F}\"]",
        String(repeating: "[", count: 100_000), String(repeating: "{\"a\":", count: 100_000),
        String(repeating: "[", count: JSONValue.maximumDepth + 1) + String(repeating: "]", count: JSONValue.maximumDepth + 1),
    ]

    /// Raw bytes that are not valid UTF-8, where strings hold them.
    static let refusedBytes: [[UInt8]] = [
        Array("[\"".utf8) + [0xE9] + Array("\"]".utf8),
        Array("[\"".utf8) + [0xED, 0xA0, 0x80] + Array("\"]".utf8),
        Array("[\"".utf8) + [0xC0, 0xAF] + Array("\"]".utf8),
        Array("[\"".utf8) + [0xF4, 0xBF, 0xBF, 0xBF] + Array("\"]".utf8),
        Array("[\"".utf8) + [0xFF] + Array("\"]".utf8),
        Array("[\"".utf8) + [0x81] + Array("\"]".utf8),
        Array("{\"".utf8) + [0xB9] + Array("\":\"0\"}".utf8),
        [0x5B, 0xFF, 0x5D],
        Array("[1e1".utf8) + [0xE5] + Array("]".utf8),
    ]

    static let implementationDefined: [String] = [
        "[1E400]", "[-1e+9999]", "[1.5e+9999]", "[123123e100000]", "[100000000000000000000]",
        "[-123123123123123123123123123123]", "[1e1000000]", "[-9223372036854775809]", "[18446744073709551616]",
        "[\"\\uDADA\"]", "[\"\\uD888\\u1234\"]", "[\"\\uDd1e\\uD834\"]", "[\"\\uDFAA\"]", "[\"\\uD800\\n\"]",
        "[\"\\uD800\"]", "[\"\\uD800\\uD800\\n\"]", "[\"\\uDd1ea\"]",
        String(repeating: "[", count: JSONValue.maximumDepth) + String(repeating: "]", count: JSONValue.maximumDepth),
    ]

    @Test("y_: every valid document parses, and writing it and parsing again gives the same value", arguments: accepted)
    func accepts(_ text: String) throws {
        let value = try JSONValue.parse(text)
        #expect(try JSONValue.parse(value.serialized) == value)
    }

    @Test("n_: every invalid document is refused with an offset inside it", arguments: refused)
    func refuses(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes) }
        if let error = parseError(bytes) { #expect(error.offset >= 0 && error.offset <= bytes.count) }
    }

    @Test("n_: strings that are not valid UTF-8 are refused", arguments: refusedBytes)
    func refusesInvalidUTF8(_ bytes: [UInt8]) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes) }
    }

    @Test("i_: implementation-defined documents either parse and round-trip, or are refused", arguments: implementationDefined)
    func decidesWithoutCrashing(_ text: String) throws {
        guard let value = try? JSONValue.parse(text) else { return }
        #expect(try JSONValue.parse(value.serialized) == value)
    }

    @Test("numbers keep the literal the client sent, however large")
    func numberLiterals() throws {
        for literal in ["-0", "1E400", "123123e100000", "0.10", "1e-7", "100000000000000000000"] {
            #expect(try JSONValue.parse(literal) == .number(literal))
            #expect(try JSONValue.parse(literal).serialized == literal)
        }
    }

    @Test("escapes decode to the characters they name, surrogate pairs included")
    func escapes() throws {
        #expect(try JSONValue.parse("\"\\uD801\\udc37\"") == .string("\u{10437}"))
        #expect(try JSONValue.parse("\"\\ud83d\\ude39\"") == .string("😹"))
        #expect(try JSONValue.parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"") == .string("\"\\/\u{8}\u{C}\n\r\t"))
        #expect(try JSONValue.parse("\"\\u0000\"") == .string("\u{0}"))
    }

    @Test("duplicate keys keep the last value in the first key's place")
    func duplicateKeys() throws {
        let value = try JSONValue.parse("{\"a\":1,\"b\":2,\"a\":3}")
        #expect(value.objectValue?.keys.elementsEqual(["a", "b"]) == true)
        #expect(value["a"] == 3)
    }

    @Test("every control character written is escaped, and reads back the same")
    func controlCharacters() throws {
        let text = String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }) + "\u{7F}\"\\"
        let written = JSONValue.string(text).serialized
        #expect(!written.utf8.dropFirst().dropLast().contains { $0 < 0x20 })
        #expect(try JSONValue.parse(written) == .string(text))
    }

    private func parseError(_ bytes: [UInt8]) -> JSONParseError? {
        do {
            _ = try JSONValue.parse(bytes)
            return nil
        } catch {
            return error
        }
    }
}
