import Foundation
import Logging
import ServiceLifecycle

/// Hands back the pages of code and read-only data that only start-up needed.
///
/// Start-up (argument parsing, YAML, migrations, Hummingbird's set-up, ICU's time-zone tables)
/// touches megabytes of the static binary that an idle Herald never runs again, and the kernel
/// maps 64 KB around every touched page. Once the server listens and has settled, this unmaps
/// the executable's own read-only mappings that hold no private copy (`madvise(MADV_DONTNEED)`):
/// the bytes stay in the page cache, where the kernel may reclaim them, and whatever Herald still
/// runs faults back in from there. Only the executable, because its mappings live as long as
/// the process (a library could be unloaded and its addresses reused between the read of smaps
/// and the madvise). A mapping qualifies only if smaps shows it unwritable, with no anonymous
/// pages *and* nothing in swap (RELRO's relocated pages may sit there, and DONTNEED would drop
/// them), and not locked, hugetlb or device memory; anything the parser does not see stays.
/// `MADV_PAGEOUT` would be gentler but the kernel ignores it for file pages of a binary the
/// process may not write, which is how systemd's DynamicUser runs Herald.
public enum StartUpPages {
    public struct Mapping: Equatable, Sendable {
        public var start: UInt
        public var end: UInt
    }

    /// The mappings of `executable` in `/proc/PID/smaps` text that are safe to unmap.
    public static func releasable(smaps: String, executable: String) -> [Mapping] {
        var found: [Mapping] = []
        var candidate: Mapping?
        var proven: Set<Substring> = []  // the fields seen that clear the current mapping
        func finish() {
            if let mapping = candidate, proven == ["Anonymous:", "Swap:", "VmFlags:"] { found.append(mapping) }
            candidate = nil
        }
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if !first.hasSuffix(":") {  // a mapping's header: range perms offset dev inode [path]
                finish()
                proven = []
                let bounds = first.split(separator: "-")
                guard fields.count >= 6, bounds.count == 2, let start = UInt(bounds[0], radix: 16),
                      let end = UInt(bounds[1], radix: 16), start < end, !fields[1].contains("w"),
                      fields[5...].joined(separator: " ") == executable
                else { continue }
                candidate = Mapping(start: start, end: end)
            } else if first == "Anonymous:" || first == "Swap:" {
                if fields.count >= 2, fields[1] == "0" { proven.insert(first) } else { candidate = nil }
            } else if first == "VmFlags:" {
                // locked, hugetlb, PFN or I/O mappings: not for DONTNEED
                if fields.dropFirst().contains(where: { ["lo", "ht", "pf", "io"].contains($0) }) { candidate = nil }
                else { proven.insert(first) }
            }
        }
        finish()
        return found
    }

    /// Unmaps the releasable mappings of this process; returns VmRSS before and after, or nil
    /// if /proc could not be read.
    @discardableResult
    public static func release() -> (before: Int, after: Int)? {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
              let smaps = ProcFile.read("/proc/self/smaps") else { return nil }
        let before = residentBytes()
        for mapping in releasable(smaps: smaps, executable: executable) { release(mapping) }
        return (before, residentBytes())
    }

    /// Unmaps one range; false if the kernel refused (it is left as it was).
    @discardableResult
    public static func release(_ mapping: Mapping) -> Bool {
        madvise(UnsafeMutableRawPointer(bitPattern: mapping.start), Int(mapping.end - mapping.start),
                Int32(MADV_DONTNEED)) == 0
    }

    /// VmRSS in bytes, 0 if unreadable.
    public static func residentBytes() -> Int {
        (ProcFile.statusKB("VmRSS:") ?? 0) * 1024
    }
}

/// Releases start-up pages once, a few seconds after the port listens, when start-up's
/// stragglers (the first broker round trip, the first requests of a supervisor) are done.
struct StartUpPagesService: Service {
    let listening: AsyncStream<Int>
    let settle: Duration
    let logger: Logger

    func run() async throws {
        for await _ in listening.cancelOnGracefulShutdown() { break }
        do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: settle) } } catch { return }
        if !Task.isShuttingDownGracefully {
            if let (before, after) = StartUpPages.release() {
                logger.debug("released start-up pages", metadata: [
                    "rss_before_kb": "\(before / 1024)", "rss_after_kb": "\(after / 1024)"])
            } else {
                logger.debug("start-up pages not released: /proc/self is not readable")
            }
        }
        // Stay up whatever happened: a service that returns ends the whole group.
        try? await gracefulShutdown()
    }
}
