#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How long a 64-bit little-endian ELF file says it is (the end of its last segment or of its
/// section header table, whichever is further) and how long it is, so a file still being copied
/// is recognised before `dlopen` maps it: touching a mapped page past the end of a file is a
/// SIGBUS, which would take the whole host down.
struct ELFExtent {
    let size: UInt64
    let needed: UInt64

    /// Nil when the file cannot be read or is not a 64-bit little-endian ELF file; `dlopen` then
    /// says what is wrong with it.
    init?(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        let size = UInt64(info.st_size)

        func read(_ count: UInt64, at offset: UInt64) -> [UInt8]? {
            guard offset <= size, count <= size - offset else { return nil }
            let count = Int(count)
            var bytes = [UInt8](repeating: 0, count: count)
            let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
            return got == count ? bytes : nil
        }
        guard let header = read(64, at: 0), header[0..<4] == [0x7F, 0x45, 0x4C, 0x46] else { return nil }
        guard header[4] == 2, header[5] == 1 else { return nil }  // ELFCLASS64, ELFDATA2LSB

        let programHeaders = Self.integer(header, at: 0x20, width: 8)
        let sectionHeaders = Self.integer(header, at: 0x28, width: 8)
        let programEntrySize = Self.integer(header, at: 0x36, width: 2)
        let programCount = Self.integer(header, at: 0x38, width: 2)
        let sectionEntrySize = Self.integer(header, at: 0x3A, width: 2)
        let sectionCount = Self.integer(header, at: 0x3C, width: 2)

        var needed = Self.end(programHeaders, programEntrySize * programCount)
        if sectionCount > 0 { needed = max(needed, Self.end(sectionHeaders, sectionEntrySize * sectionCount)) }
        if needed <= size, programEntrySize >= 40 {
            for index in 0..<programCount {
                // p_offset at 8 and p_filesz at 32 of each Elf64_Phdr.
                guard let entry = read(40, at: programHeaders + index * programEntrySize) else { break }
                needed = max(needed, Self.end(Self.integer(entry, at: 8, width: 8), Self.integer(entry, at: 32, width: 8)))
            }
        }
        self.size = size
        self.needed = needed
    }

    private static func integer(_ bytes: [UInt8], at offset: Int, width: Int) -> UInt64 {
        (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }

    /// `offset + length`, saturating: a corrupt header must not trap.
    private static func end(_ offset: UInt64, _ length: UInt64) -> UInt64 {
        let (sum, overflow) = offset.addingReportingOverflow(length)
        return overflow ? .max : sum
    }
}
