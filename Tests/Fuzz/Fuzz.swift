// The libFuzzer harness (`scripts/fuzz`): built only with TOOLBRIDGE_FUZZ set, when libFuzzer
// supplies `main`. Each target checks properties of what it parses, not only that nothing traps;
// a broken property stops the run like a crash, and libFuzzer keeps the input.
@testable import API
import Host

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libFuzzer calls this once per input, on one thread.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTarget.selected.run(bytes)
    return 0
}

/// The program's entry in a debug build: SwiftPM links an executable's `main` to `<module>_main`
/// there (so tests could link the module), which would leave libFuzzer's own `main` unused. This
/// hands the arguments to libFuzzer's driver, as its `main` would. (Release builds use libFuzzer's `main`.)
@_cdecl("Fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return llvmFuzzerRunDriver(&count, &arguments, fuzzOneInput)
}

@_silgen_name("LLVMFuzzerRunDriver")
func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The targets, named by `TOOLBRIDGE_FUZZ_TARGET`.
enum FuzzTarget: String, CaseIterable {
    case json, tenants, search, cursor, timestamp

    static let selected: FuzzTarget = {
        let name = getenv("TOOLBRIDGE_FUZZ_TARGET").map { String(cString: $0) } ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            fatalError("set TOOLBRIDGE_FUZZ_TARGET to one of: \(names) (it is '\(name)')")
        }
        return target
    }()

    func run(_ bytes: [UInt8]) {
        switch self {
        case .json: JSONProperties.check(bytes)
        case .tenants: TenantProperties.check(String(decoding: bytes, as: UTF8.self))
        case .search: SearchProperties.check(String(decoding: bytes, as: UTF8.self))
        case .cursor: CursorProperties.check(bytes)
        case .timestamp: TimestampProperties.check(bytes)
        }
    }
}

/// Stops the run, so libFuzzer records the input, when a property does not hold.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("property broken: \(message())") }
}

/// An Int64 from the first eight bytes (fewer are zero-padded): every value, including the extremes.
func int64(_ bytes: ArraySlice<UInt8>) -> Int64 {
    var value: UInt64 = 0
    for byte in bytes.prefix(8) { value = value << 8 | UInt64(byte) }
    return Int64(bitPattern: value)
}
