import API
import ServerSupport

/// `format` and `parse` never trap; within the valid range, parse(format(ms)) == ms and a parsed
/// text formats to one that parses to the same time.
enum TimestampProperties {
    static func check(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if let parsed = Timestamp.parse(text) {
            require(Timestamp.range.contains(parsed), "\(text) parsed to \(parsed), outside the range")
            let formatted = Timestamp.format(milliseconds: parsed)
            require(Timestamp.parse(formatted) == parsed, "\(text) → \(parsed) → \(formatted) does not read back")
        }

        let ms = int64(bytes[...])
        let formatted = Timestamp.format(milliseconds: ms)
        require(formatted.utf8.count == 24, "\(ms) formats to \(formatted), not 24 characters")
        if Timestamp.range.contains(ms) {
            require(Timestamp.parse(formatted) == ms, "\(ms) → \(formatted) → \(String(describing: Timestamp.parse(formatted)))")
        } else {
            let nearest = ms < Timestamp.earliest ? Timestamp.earliest : Timestamp.latest
            require(formatted == Timestamp.format(milliseconds: nearest), "\(ms) outside the range formats to \(formatted)")
        }
    }
}
