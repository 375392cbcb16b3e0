import API
import TestSupport
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The built `toolbridge` executable, run as a real process on a real port.
final class ToolBridgeProcess: @unchecked Sendable {
    let process: Process
    let output: String
    let baseURL: String

    private init(process: Process, output: String, baseURL: String) {
        self.process = process
        self.output = output
        self.baseURL = baseURL
    }

    /// The executable `swift build` put beside the test bundle.
    static var executable: String {
        get throws {
            let testBinary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
            if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
            let path = directory.appendingPathComponent("toolbridge").path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw TestSetupError("toolbridge is not built at \(path): run swift build first")
            }
            return path
        }
    }

    /// The environment a process gets: this one's, minus ToolBridge settings, plus `settings`.
    static func environment(_ settings: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("TOOLBRIDGE_") && $0.key != "DATABASE_URL"
        }
        for (key, value) in settings { environment[key] = value }
        return environment
    }

    /// Runs a command to completion and returns its exit status, stdout and stderr.
    static func run(_ arguments: [String], environment settings: [String: String]) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable)
        process.arguments = arguments
        process.environment = environment(settings)
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// Starts `toolbridge api --port 0` and waits for the line that names its port.
    static func startAPI(environment settings: [String: String]) async throws -> ToolBridgeProcess {
        let directory = try TestDatabase.temporaryDirectory()
        let outputPath = directory + "/stdout.log"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable)
        process.arguments = ["api", "--port", "0"]
        process.environment = environment(settings)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        _ = FileManager.default.createFile(atPath: directory + "/stderr.log", contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/stderr.log"))
        try process.run()
        for _ in 0..<600 {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            if let range = text.range(of: "listening on ") {
                let url = text[range.upperBound...].prefix { !$0.isNewline }
                return ToolBridgeProcess(process: process, output: outputPath, baseURL: String(url))
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        let errors = (try? String(contentsOfFile: directory + "/stderr.log", encoding: .utf8)) ?? ""
        throw TestSetupError("toolbridge api did not start: \(errors)")
    }

    /// Sends SIGTERM and waits for the exit status.
    func stop() async throws -> Int32 {
        process.terminate()
        for _ in 0..<400 where process.isRunning {
            try await Task.sleep(for: .milliseconds(25))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// One HTTP request over a real socket.
    func request(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> (status: Int, json: API.JSONValue?) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
        return (Int(response.status.code), try? API.JSONValue.parse(text))
    }
}

