import Foundation
import Logging
import ServiceLifecycle

/// sd_notify(3) without libsystemd: each message is one datagram to the socket systemd names in
/// `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace).
public struct SystemdNotifier: Sendable {
    public let socketPath: String
    /// Half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises; nil when there is no watchdog
    /// or it watches another process (`WATCHDOG_PID`).
    public let watchdogInterval: Duration?

    /// nil when Herald was not started by systemd with `Type=notify`.
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let path = environment["NOTIFY_SOCKET"], path.hasPrefix("/") || path.hasPrefix("@") else { return nil }
        socketPath = path
        let watchesUs = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        if watchesUs, let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0 {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends newline-separated assignments (`READY=1\nSTATUS=…`); false if the datagram did not go out.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // abstract: a leading NUL, no terminator
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count)

        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, message, message.count, Int32(MSG_NOSIGNAL), $0, length)
            }
        }
        return sent == message.count
    }
}

/// Keeps systemd informed: READY=1 once the port listens (the event log was opened and migrated
/// before any service started), then STATUS= and WATCHDOG=1 from a loop that has to read the
/// event log and lock the hub to get there, so a hung database or a deadlocked hub stops the
/// pings and systemd restarts Herald; STOPPING=1 as soon as the drain begins.
struct SystemdNotifyService: Service {
    let notifier: SystemdNotifier
    let runtime: HeraldRuntime
    let listening: AsyncStream<Int>

    func run() async throws {
        for await _ in listening.cancelOnGracefulShutdown() { break }
        guard !Task.isShuttingDownGracefully, !Task.isCancelled else {
            notifier.notify("STOPPING=1")
            return
        }

        var last = try await Sample(runtime)
        notifier.notify("READY=1\nSTATUS=\(last.status(since: nil))")
        let watchdog = notifier.watchdogInterval
        while true {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: watchdog ?? .seconds(10)) } } catch { break }
            if Task.isShuttingDownGracefully { break }
            do {
                let sample = try await Sample(runtime)
                notifier.notify((watchdog != nil ? "WATCHDOG=1\n" : "") + "STATUS=\(sample.status(since: last))")
                last = sample
            } catch {
                // No ping: a log that cannot be read is worth a restart.
                runtime.logger.error("health check failed: the event log did not answer a read", metadata: ["error": "\(error)"])
            }
        }
        notifier.notify("STOPPING=1\nSTATUS=stopping: ending streams, committing what is queued")
    }

    /// What the loop proves and reports: the head id (a real read), live clients (the hub's lock).
    struct Sample {
        let head: Int64
        let clients: Int
        let mqtt: HeraldRuntime.MQTTLink
        let time = ContinuousClock.now

        init(_ runtime: HeraldRuntime) async throws {
            head = try await runtime.store.headId()
            clients = runtime.hub.subscriberCount
            mqtt = runtime.mqttLink.withLock { $0 }
        }

        /// `3 clients, 12.5 events/s, broker connected`; the rate is over the last interval.
        func status(since previous: Sample?) -> String {
            var rate = 0.0
            if let previous {
                let elapsed = (time - previous.time).components
                let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
                if seconds > 0 { rate = Double(head - previous.head) / seconds }
            }
            let broker = switch mqtt {
            case .connected: "broker connected"
            case .disconnected: "broker disconnected"
            case .standby: "MQTT on standby"
            case .disabled: "MQTT disabled"
            }
            let clientsText = clients == 1 ? "1 client" : "\(clients) clients"
            return "\(clientsText), \(String(format: "%.1f", rate)) events/s, \(broker)"
        }
    }
}
