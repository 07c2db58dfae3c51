import Foundation
import Testing
@testable import HeraldCore

@Suite struct StartUpPagesTests {
    static let smaps = """
        55d0c0000000-55d0c0100000 r--p 00000000 fe:01 1234                       /usr/bin/herald
        Size:               1024 kB
        Rss:                 512 kB
        Anonymous:             0 kB
        55d0c0100000-55d0c0900000 r-xp 00100000 fe:01 1234                       /usr/bin/herald
        Rss:                4096 kB
        Anonymous:             0 kB
        55d0c0900000-55d0c0a00000 r--p 00900000 fe:01 1234                       /usr/bin/herald
        Rss:                1024 kB
        Anonymous:           768 kB
        55d0c0a00000-55d0c0b00000 rw-p 00a00000 fe:01 1234                       /usr/bin/herald
        Anonymous:             0 kB
        55d0c1000000-55d0c2000000 rw-p 00000000 00:00 0                          [heap]
        Anonymous:          4096 kB
        7f0000000000-7f0000001000 r--p 00000000 00:00 0                          [vvar]
        Anonymous:             0 kB
        7f0000002000-7f0000003000 r-xp 00000000 fe:01 99                         /opt/my lib/libx.so
        VmFlags: rd ex mr mw me
        """

    @Test func onlyReadOnlyFileMappingsWithoutCopiedPages() {
        let found = StartUpPages.releasable(smaps: Self.smaps)
        #expect(found.map(\.start) == [0x55d0_c000_0000, 0x55d0_c010_0000, 0x7f00_0000_2000])
        #expect(found[1].end == 0x55d0_c090_0000)
        #expect(found[2].path == "/opt/my lib/libx.so")  // paths with spaces stay whole
    }

    @Test func malformedTextYieldsNothing() {
        #expect(StartUpPages.releasable(smaps: "").isEmpty)
        #expect(StartUpPages.releasable(smaps: "zz-yy r--p 0 0 0 /x\nAnonymous: 0 kB").isEmpty)
    }

    /// Releases this very test process's pages: resident code shrinks, and the process goes on
    /// running (and computing right) on pages that fault back in.
    @Test func releasingOwnPagesShrinksThemAndKeepsWorking() throws {
        func residentKB(_ mapping: StartUpPages.Mapping) throws -> Int {
            let smaps = try String(contentsOfFile: "/proc/self/smaps", encoding: .utf8)
            let header = String(format: "%lx-%lx ", mapping.start, mapping.end)
            guard let block = smaps.components(separatedBy: "\n").drop(while: { !$0.hasPrefix(header) })
                .first(where: { $0.hasPrefix("Rss:") }) else { return 0 }
            return Int(block.split(separator: " ")[1]) ?? 0
        }
        let smaps = try String(contentsOfFile: "/proc/self/smaps", encoding: .utf8)
        let largest = try #require(try StartUpPages.releasable(smaps: smaps).max { try residentKB($0) < residentKB($1) })
        let before = try residentKB(largest)
        #expect(before > 0)
        #expect(StartUpPages.release() != nil)
        #expect(try residentKB(largest) < before)
        #expect((1...1000).reduce(0, +) == 500_500)
        #expect(try ConfigLoader.parse("server: {replay: 7}").server.replay == 7)
    }
}
