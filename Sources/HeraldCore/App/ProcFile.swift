import Foundation

/// Linux /proc files. They report a size of 0, so a read sized by stat (as
/// `String(contentsOfFile:)` does) can stop short on the long ones, such as smaps.
public enum ProcFile {
    /// The whole file, read until end of file; nil if it cannot be opened or read.
    public static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A kB figure from `/proc/PID/status` (`VmRSS:`, `VmHWM:` …); `self` for this process.
    public static func statusKB(_ field: String, process: String = "self") -> Int? {
        guard let status = read("/proc/\(process)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field) {
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }
}
