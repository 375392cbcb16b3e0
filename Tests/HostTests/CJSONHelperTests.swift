import Foundation
import TestSupport
import Testing

/// `toolbridge_json.h`, the C plugin authors' JSON helper, tested by its own C program built with
/// AddressSanitizer and UndefinedBehaviorSanitizer: every input sits in a heap block of exactly its
/// length, so a read past it, a leak or undefined arithmetic fails the run.
@Suite("C JSON helper")
struct CJSONHelperTests {
    /// Runs a program to its end and returns its exit status and everything it wrote.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test("the helper's C tests pass under the address and undefined-behaviour sanitizers, in C99 and C11")
    func sanitizedCTests() throws {
        for standard in ["c99", "c11"] {
            let program = try TestDatabase.temporaryDirectory() + "/toolbridge_json_test"
            let build = try Self.run([
                "cc", "-std=\(standard)", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g",
                "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                "-I", "\(packageRoot)/Sources/PluginABI/include",
                "\(packageRoot)/Tests/Fixtures/json/toolbridge_json_test.c", "-o", program,
            ])
            try #require(build.status == 0, "cc -std=\(standard) failed: \(build.output)")
            let result = try Self.run([program])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.hasSuffix(", 0 failed\n"), "\(result.output)")
        }
    }
}
