@testable import API

/// Cursors never trap whatever a client sends, and every cursor the API writes reads back as
/// the position it was written for.
enum CursorProperties {
    static func check(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? RequestParsing.position(fromCursor: text)
        _ = try? RequestParsing.offset(fromCursor: text)

        // The bytes as a position: any int64 time and a uid made of the next sixteen bytes.
        let ms = int64(bytes[...])
        var uidBytes = Array(bytes.dropFirst(8).prefix(16))
        uidBytes += Array(repeating: 0, count: 16 - uidBytes.count)
        let hex = uidBytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let uid = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4),
            hex.dropFirst(20)].joined(separator: "-")
        let item = StoredItem(
            uid: uid, version: 1, updatedMs: ms, deletedMs: nil, clockMs: ms, payload: "{}", status: nil,
            parentUID: nil, parentType: nil)
        let cursor = RequestParsing.cursor(after: item)
        let position = try? RequestParsing.position(fromCursor: cursor)
        require(position?.updatedMs == ms && position?.uid == uid, "the cursor \(cursor) of (\(ms), \(uid)) reads back as \(String(describing: position))")

        let offset = Int(UInt64(bitPattern: ms) % UInt64(RequestParsing.maximumOffset + 1))
        let offsetCursor = RequestParsing.offsetCursor(offset)
        require(
            (try? RequestParsing.offset(fromCursor: offsetCursor)) == offset,
            "the search cursor \(offsetCursor) of offset \(offset) does not read back")
    }
}
