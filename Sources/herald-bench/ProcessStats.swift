#if canImport(Glibc)
import Glibc
#endif

/// CPU time and memory of the server's processes, read from /proc.
struct ProcessSample: Sendable {
    /// User + system CPU seconds, summed over the processes.
    var cpuSeconds: Double
    /// Resident set size in KiB, summed.
    var rssKiB: Int
    /// Peak resident set size (VmHWM) in KiB, summed.
    var peakRssKiB: Int

    static func read(_ pids: [Int32]) -> ProcessSample? {
        guard !pids.isEmpty else { return nil }
        var sample = ProcessSample(cpuSeconds: 0, rssKiB: 0, peakRssKiB: 0)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        for pid in pids {
            guard let stat = readFile("/proc/\(pid)/stat"), let status = readFile("/proc/\(pid)/status") else { return nil }
            // Fields after the command name, which is in parentheses and may contain spaces.
            guard let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is field 3 (state); utime is field 14, stime field 15.
            guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
            sample.cpuSeconds += (utime + stime) / ticks
            sample.rssKiB += statusValue(status, "VmRSS:")
            sample.peakRssKiB += statusValue(status, "VmHWM:")
        }
        return sample
    }

    private static func statusValue(_ status: String, _ name: String) -> Int {
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
        return 0
    }

    /// A whole file as text, read to its end: /proc files report a size of 0.
    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Every SSE client holds a descriptor; the default soft limit (1024) is far too low for 10,000.
enum FileLimit {
    @discardableResult
    static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(limit.rlim_cur)
    }
}
