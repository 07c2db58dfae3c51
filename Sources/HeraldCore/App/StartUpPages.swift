import Foundation
import Logging
import ServiceLifecycle

/// Hands back the pages of code and read-only data that only start-up needed.
///
/// Start-up (argument parsing, YAML, migrations, Hummingbird's set-up, ICU's time-zone tables)
/// touches megabytes of the static binary that an idle Herald never runs again, and on kernels
/// that map whole page-cache folios (64–256 KB) per fault they stay mapped. Once the server
/// listens and has settled, this unmaps every read-only, file-backed mapping that holds no
/// private copy (`madvise(MADV_DONTNEED)`): the bytes stay in the page cache, where the kernel
/// may reclaim them, and whatever Herald still runs faults back in from there. Writable mappings
/// and read-only ones holding relocated (copied-on-write) pages are never touched, so no data
/// can be lost, only re-read.
public enum StartUpPages {
    public struct Mapping: Equatable, Sendable {
        public var start: UInt
        public var end: UInt
        public var path: String
    }

    /// The mappings of `/proc/PID/smaps` text that are safe to unmap: backed by a file (a path),
    /// not writable, and without anonymous (copied) pages.
    public static func releasable(smaps: String) -> [Mapping] {
        var found: [Mapping] = []
        var candidate: Mapping?
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first.contains("-"), !first.hasSuffix(":"), fields.count >= 5 {
                if let mapping = candidate { found.append(mapping) }
                candidate = nil
                let bounds = first.split(separator: "-")
                guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                      start < end, !fields[1].contains("w"), fields.count >= 6, fields[5].hasPrefix("/")
                else { continue }
                candidate = Mapping(start: start, end: end, path: fields[5...].joined(separator: " "))
            } else if first == "Anonymous:", fields.count >= 2, fields[1] != "0" {
                candidate = nil
            }
        }
        if let mapping = candidate { found.append(mapping) }
        return found
    }

    /// Unmaps the releasable mappings of this process; returns how many bytes were resident
    /// before (from VmRSS) and after.
    @discardableResult
    public static func release() -> (before: Int, after: Int)? {
        guard let smaps = try? String(contentsOfFile: "/proc/self/smaps", encoding: .utf8) else { return nil }
        let before = residentBytes()
        for mapping in releasable(smaps: smaps) {
            _ = madvise(UnsafeMutableRawPointer(bitPattern: mapping.start), Int(mapping.end - mapping.start),
                        Int32(MADV_DONTNEED))
        }
        return (before, residentBytes())
    }

    /// VmRSS in bytes, 0 if unreadable.
    public static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return kilobytes * 1024
    }
}

/// Releases start-up pages once, a few seconds after the port listens (long enough for the
/// first keepalive, retention and broker round to have run).
struct StartUpPagesService: Service {
    let listening: AsyncStream<Int>
    let settle: Duration
    let logger: Logger

    func run() async throws {
        for await _ in listening.cancelOnGracefulShutdown() { break }
        do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: settle) } } catch { return }
        guard !Task.isShuttingDownGracefully, let (before, after) = StartUpPages.release() else { return }
        logger.debug("released start-up pages", metadata: [
            "rss_before_kb": "\(before / 1024)", "rss_after_kb": "\(after / 1024)"])
        // Nothing else to do; stay up so the group does not treat an early return as the end.
        try? await gracefulShutdown()
    }
}
