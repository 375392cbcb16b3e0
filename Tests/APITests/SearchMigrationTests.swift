@testable import API
import Logging
import SQLiteNIO
import TestSupport
import Testing

@Suite("Search migration")
struct SearchMigrationTests {
    @Test("items written before the search migration are found after it")
    func existingItemsAreIndexed() async throws {
        let configuration = try TestDatabase.configuration(.sqlite)
        let tenant = uniqueTenant()
        let live = "3b241101-e2bb-4255-8caf-4136c566a962"
        let deleted = "5c0a7ad5-0d4b-4d43-9d0e-8a3c1e1f0b11"
        let connection = try await SQLiteConnection.open(
            storage: .file(path: configuration.sqlitePath), logger: Logger(label: "toolbridge.test.migration"))
        do {
            for statement in Schema.migrations[0].statements { _ = try await connection.query(statement) }
            _ = try await connection.query(
                "CREATE TABLE toolbridge_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)")
            _ = try await connection.query("INSERT INTO toolbridge_migrations (version, applied_ms) VALUES (1, 0)")
            for (uid, deletedMs) in [(live, SQLiteData.null), (deleted, .integer(2))] {
                _ = try await connection.query(
                    """
                    INSERT INTO items (tenant_id, owner_id, kind, uid, version, updated_ms, deleted_ms, clock_ms, payload)
                    VALUES (?, 'alice', 'notes', ?, 1, 1, ?, 1, ?)
                    """,
                    [.text(tenant), .text(uid), deletedMs, .text(#"{"title":"Old lighthouse","uid":"\#(uid)"}"#)])
            }
        } catch {
            try await connection.close()
            throw error
        }
        try await connection.close()

        try await TestAPI.run(configuration: configuration, tenant: tenant) { api in
            let alice = try await api.user("alice")
            let found = try await api.send(.get, "/v1/search?q=lighthouse", as: alice)
            #expect(found.status == .ok, "\(found.text)")
            #expect(found["items"]?.arrayValue?.map { $0["item"]?.uid } == [live])
            let new = try await api.create("notes", as: alice, #"{"title":"New lighthouse"}"#)
            let both = try await api.send(.get, "/v1/search?q=lighthouse", as: alice)
            #expect(Set(both["items"]?.arrayValue?.compactMap { $0["item"]?.uid } ?? []) == [live, new.uid])
        }
    }
}
