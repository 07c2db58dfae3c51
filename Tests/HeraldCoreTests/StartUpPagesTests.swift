import Foundation
import Testing
@testable import HeraldCore

@Suite struct StartUpPagesTests {
    static let binary = "/usr/bin/herald"

    static func block(_ range: String, _ perms: String, path: String = binary, anonymous: Int = 0, swap: Int = 0,
                      flags: String? = "rd mr mw me") -> String {
        """
        \(range) \(perms) 00000000 fe:01 1234                       \(path)
        Rss:                 512 kB
        Anonymous:           \(anonymous) kB
        Swap:                \(swap) kB
        """ + (flags.map { "\nVmFlags: \($0)" } ?? "")
    }

    @Test func onlyTheExecutablesReadOnlyMappingsWithoutCopiesOrSwap() {
        let smaps = [
            Self.block("1000-2000", "r--p"),
            Self.block("2000-3000", "r-xp", flags: "rd ex mr mw me"),
            Self.block("3000-4000", "r--p", anonymous: 768),        // RELRO: relocated copies
            Self.block("4000-5000", "r--p", swap: 4),                // relocated copies, swapped out
            Self.block("5000-6000", "rw-p"),
            Self.block("6000-7000", "r-xp", path: "/usr/lib/libc.so.6"),
            Self.block("7000-8000", "r--p", flags: "rd mr mw me lo"),  // locked
            Self.block("8000-9000", "r--p", flags: nil),             // no VmFlags: not sure, so no
            Self.block("9000-a000", "rw-p", path: "[heap]", anonymous: 4),
        ].joined(separator: "\n")
        let found = StartUpPages.releasable(smaps: smaps, executable: Self.binary)
        #expect(found == [.init(start: 0x1000, end: 0x2000), .init(start: 0x2000, end: 0x3000)])
    }

    @Test func pathsWithSpacesAndDeletedBinaries() {
        let path = "/opt/my herald/herald (deleted)"
        let found = StartUpPages.releasable(smaps: Self.block("1000-2000", "r-xp", path: path), executable: path)
        #expect(found.count == 1)
        #expect(StartUpPages.releasable(smaps: "", executable: Self.binary).isEmpty)
        #expect(StartUpPages.releasable(smaps: Self.block("zz-yy", "r--p"), executable: Self.binary).isEmpty)
    }

    /// A private file mapping, the way the binary is mapped: read-only pages are released and
    /// read back right; once a page was written (copied), the real kernel's smaps marks the
    /// mapping and it is left alone even after it is made read-only again, like RELRO.
    @Test func onARealMappingCopiesAreKeptAndCleanPagesComeBack() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("startup-pages-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        let size = 64 * 4096
        try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 / 4096 + 1) }).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let fd = open(url.path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        func smaps() throws -> String { try #require(ProcFile.read("/proc/self/smaps")) }
        /// Rss of the mapping starting at `address`, from smaps.
        func residentKB(_ address: UnsafeMutableRawPointer) throws -> Int? {
            let header = String(UInt(bitPattern: address), radix: 16) + "-"
            return try smaps().components(separatedBy: "\n").drop { !$0.hasPrefix(header) }
                .first { $0.hasPrefix("Rss:") }.flatMap { Int($0.split(separator: " ")[1]) }
        }

        let clean = try #require(mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0))
        try #require(clean != MAP_FAILED)
        defer { munmap(clean, size) }
        var sum = 0
        for page in 0..<64 { sum += Int(clean.load(fromByteOffset: page * 4096, as: UInt8.self)) }
        let mappings = StartUpPages.releasable(smaps: try smaps(), executable: url.path)
        #expect(mappings == [.init(start: UInt(bitPattern: clean), end: UInt(bitPattern: clean) + UInt(size))])
        #expect(try residentKB(clean) == size / 1024)
        for mapping in mappings { #expect(StartUpPages.release(mapping)) }
        #expect(try residentKB(clean) == 0)  // unmapped, not just advised
        var again = 0
        for page in 0..<64 { again += Int(clean.load(fromByteOffset: page * 4096, as: UInt8.self)) }
        #expect(again == sum && sum == (1...64).reduce(0, +))

        let copied = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0))
        try #require(copied != MAP_FAILED)
        defer { munmap(copied, size) }
        copied.storeBytes(of: 0xEE, toByteOffset: 5 * 4096, as: UInt8.self)
        #expect(mprotect(copied, size, PROT_READ) == 0)
        let after = StartUpPages.releasable(smaps: try smaps(), executable: url.path)
        #expect(!after.contains { $0.start == UInt(bitPattern: copied) })
        #expect(copied.load(fromByteOffset: 5 * 4096, as: UInt8.self) == 0xEE)
    }
}
