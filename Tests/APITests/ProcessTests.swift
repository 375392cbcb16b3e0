import API
import TestSupport
import Foundation
import Testing

@Suite("The toolbridge process")
struct ProcessTests {
    private func settings(_ store: StoreKind) throws -> [String: String] {
        switch store {
        case .sqlite: ["TOOLBRIDGE_DATA_DIR": try TestDatabase.temporaryDirectory()]
        case .postgres:
            ["TOOLBRIDGE_DATA_DIR": try TestDatabase.temporaryDirectory(), "DATABASE_URL": try TestDatabase.postgresURL()]
        }
    }

    @Test("toolbridge api serves over a real socket with a token from toolbridge token, and stops on SIGTERM",
        arguments: StoreKind.allCases)
    func apiProcess(store: StoreKind) async throws {
        let settings = try settings(store)
        let api = try await ToolBridgeProcess.startAPI(environment: settings)
        let health = try await api.request(.GET, "/healthz")
        #expect(health.status == 200)
        #expect(try await api.request(.GET, "/readyz").status == 200)

        let tenant = uniqueTenant()
        let (status, token, _) = try ToolBridgeProcess.run(["token", "--sub", "dana", "--tenant", tenant], environment: settings)
        #expect(status == 0)
        let bearer = ("Authorization", "Bearer " + token.trimmingCharacters(in: .whitespacesAndNewlines))
        let session = try await api.request(.POST, "/v1/sync/sessions", headers: [bearer])
        #expect(session.status == 201)
        let headers = [
            bearer, ("X-Sync-Session", session.json?["id"]?.stringValue ?? ""), ("X-Sync-Epoch", "1"),
        ]
        let created = try await api.request(.POST, "/v1/notes", headers: headers, body: #"{"title":"over TCP"}"#)
        #expect(created.status == 201)
        let uid = created.json?["uid"]?.stringValue ?? ""
        let fetched = try await api.request(.GET, "/v1/notes/\(uid)", headers: headers)
        #expect(fetched.status == 200)
        #expect(fetched.json?["payload"]?["title"] == "over TCP")
        let unauthorized = try await api.request(.GET, "/v1/notes/\(uid)")
        #expect(unauthorized.status == 401)

        #expect(try await api.stop() == 0, "graceful shutdown exits cleanly")
    }

    @Test("with no JWT configuration the API creates a private development secret in the data directory")
    func developmentSecret() async throws {
        let directory = try TestDatabase.temporaryDirectory()
        let api = try await ToolBridgeProcess.startAPI(environment: ["TOOLBRIDGE_DATA_DIR": directory])
        #expect(try await api.request(.GET, "/healthz").status == 200)
        _ = try await api.stop()
        let path = directory + "/toolbridge-dev-secret"
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(FileManager.default.fileExists(atPath: directory + "/toolbridge.sqlite"))
    }

    @Test("toolbridge migrate brings PostgreSQL up to date, twice in a row")
    func migrate() throws {
        let settings = try settings(.postgres)
        for _ in 0..<2 {
            let (status, output, errors) = try ToolBridgeProcess.run(["migrate"], environment: settings)
            #expect(status == 0, "\(errors)")
            #expect(output.contains("postgresql schema is up to date"))
        }
    }

    @Test("a malformed DATABASE_URL stops the process with a sentence naming it")
    func badDatabaseURL() throws {
        let (status, _, errors) = try ToolBridgeProcess.run(
            ["migrate"], environment: ["DATABASE_URL": "mysql://x", "TOOLBRIDGE_DATA_DIR": try TestDatabase.temporaryDirectory()])
        #expect(status != 0)
        #expect(errors.contains("DATABASE_URL must look like postgres://"))
    }
}
