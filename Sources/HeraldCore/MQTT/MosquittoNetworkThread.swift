import CMosquitto
import Foundation
import Synchronization

/// The MQTT connection's own thread: connects, reads, hands messages over in bursts, writes,
/// keeps the connection alive and reconnects with backoff.
///
/// libmosquitto runs in "externally threaded" mode (`mosquitto_threaded_set`), where a packet it
/// queues (a PUBACK while reading, a PINGREQ, a publish from another thread) is only ever written
/// by `mosquitto_loop_write`. That is what lets a burst's PUBACKs wait for its commit: read every
/// packet the socket holds (handing messages over in slices), wait in `onBurstEnd`, then write.
///
/// Why `@unchecked Sendable` is sound: `burst`, `handedOver` and `connack` are touched only by the
/// network thread (`run` and the callbacks it triggers); the rest is immutable, atomic, or a
/// libmosquitto handle that locks its own state.
final class MosquittoNetworkThread: @unchecked Sendable {
    let mosq: OpaquePointer
    private let options: MosquittoOptions
    private let handlers: MosquittoHandlers
    /// A pipe whose read end ends the thread's wait: `wake()` after queueing a packet, and `requestStop()`.
    private let wakeFD: Int32
    private let wakeWriteFD: Int32
    private let stopRequested = Atomic<Bool>(false)

    /// Messages read and not yet handed over; `handedOver` counts those that were, this burst.
    private var burst: [MQTTMessage] = []
    private var handedOver = 0
    /// The current connection's CONNACK code, once one came.
    private var connack: Int32? = nil

    /// How long a DISCONNECT may take to leave before we close without it.
    private static let disconnectGrace: Int64 = 2_000
    /// A connection shorter than this does not reset the backoff.
    private static let stableMilliseconds: Int64 = 10_000
    /// The longest wait in poll: keepalive checks (`mosquitto_loop_misc`) need a tick.
    private static let tickMilliseconds: Int32 = 500

    init(options: MosquittoOptions, handlers: MosquittoHandlers) throws {
        self.options = options
        self.handlers = handlers
        let id: String? = options.clientID.isEmpty ? nil : options.clientID  // nil → random id (clean sessions only)
        guard let mosq = mosquitto_new(id, options.cleanSession, nil) else {
            throw MosquittoError(operation: "mosquitto_new",
                                 code: MosquittoClient.code(errno == ENOMEM ? MOSQ_ERR_NOMEM : MOSQ_ERR_INVAL))
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            mosquitto_destroy(mosq)
            throw MosquittoError(operation: "pipe", code: MosquittoClient.code(MOSQ_ERR_ERRNO))
        }
        for fd in pipeFDs {  // a full pipe must not block `wake()`; an empty one must not block the drain
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        self.mosq = mosq
        (wakeFD, wakeWriteFD) = (pipeFDs[0], pipeFDs[1])
        do {
            try configure()
        } catch {
            mosquitto_destroy(mosq)
            pipeFDs.forEach { close($0) }
            throw error
        }
    }

    deinit {
        mosquitto_destroy(mosq)
        close(wakeFD)
        close(wakeWriteFD)
    }

    private func configure() throws {
        let check = MosquittoClient.check
        // 3.1.1 on purpose: its CONNACK carries the session-present flag we report; v5 is not wanted.
        try check(mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311), "mosquitto_int_option(PROTOCOL_VERSION)")
        // Queue packets instead of writing them from whatever thread made them: only `run` writes.
        try check(mosquitto_threaded_set(mosq, true), "mosquitto_threaded_set")
        if let username = options.username {
            try check(mosquitto_username_pw_set(mosq, username, options.password), "mosquitto_username_pw_set")
        }
        if let caFile = options.caFile {  // fails here (MOSQ_ERR_INVAL) if the file is unreadable
            try check(mosquitto_tls_set(mosq, caFile, nil, nil, nil, nil), "mosquitto_tls_set")
        }
        // Unretained userdata: this object outlives its handle (deinit destroys the handle).
        mosquitto_user_data_set(mosq, Unmanaged.passUnretained(self).toOpaque())
        // Capture-free closures, so they convert to C function pointers; state comes in via userdata.
        mosquitto_connect_with_flags_callback_set(mosq) { _, userdata, rc, flags in
            let network = MosquittoNetworkThread.from(userdata)
            network.connack = rc
            network.handlers.onConnect(rc, flags & 1 != 0)  // bit 0 of CONNACK flags = session present
        }
        mosquitto_publish_callback_set(mosq) { _, userdata, mid in
            MosquittoNetworkThread.from(userdata).handlers.onPublish(mid)
        }
        mosquitto_subscribe_callback_set(mosq) { _, userdata, mid, _, _ in
            MosquittoNetworkThread.from(userdata).handlers.onSubscribe(mid)
        }
        mosquitto_disconnect_callback_set(mosq) { _, userdata, rc in
            let network = MosquittoNetworkThread.from(userdata)
            guard network.connack == 0 else { return }  // a failed or refused attempt: `run` reports it
            network.handlers.onDisconnect(rc)
        }
        mosquitto_message_callback_set(mosq) { _, userdata, message in
            guard let message else { return }
            MosquittoNetworkThread.from(userdata).burst.append(MQTTMessage(copying: message.pointee))
        }
    }

    private static func from(_ userdata: UnsafeMutableRawPointer?) -> MosquittoNetworkThread {
        Unmanaged<MosquittoNetworkThread>.fromOpaque(userdata!).takeUnretainedValue()
    }

    // MARK: Control, from any thread

    /// Catches configuration errors (a keepalive of 1–4 s, say) before the thread starts.
    func validateConnectOptions() throws {
        let keepalive = options.keepaliveSeconds
        if keepalive != 0 && keepalive < 5 {
            throw MosquittoError(operation: "mosquitto_connect_async (keepalive \(keepalive) s)",
                                 code: MosquittoClient.code(MOSQ_ERR_INVAL))
        }
    }

    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWriteFD, &byte, 1)  // EAGAIN only when the pipe is full: the thread is woken anyway
    }

    func requestStop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        wake()
    }

    func resetStop() {
        stopRequested.store(false, ordering: .sequentiallyConsistent)
    }

    private var stopping: Bool { stopRequested.load(ordering: .sequentiallyConsistent) }

    // MARK: The thread

    /// Connect, serve, back off, again — until `requestStop`. The backoff doubles after each failed
    /// attempt (no CONNACK, a refusing one, or a connection dropped within `stableMilliseconds`)
    /// and starts afresh after a connection that lasted.
    func run() {
        let shortest = max(1, options.reconnectDelayMin), longest = max(shortest, options.reconnectDelayMax)
        var delay = shortest
        while !stopping {
            connack = nil
            var code = mosquitto_connect_async(mosq, options.host, Int32(clamping: options.port),
                                               Int32(clamping: options.keepaliveSeconds))
            let started = Clock.nowMilliseconds()
            if code == MosquittoClient.success { code = serveConnection() }
            if stopping { break }
            // A connection that is dropped at once (another client with our id, say) counts as
            // failed, so that flapping backs off too.
            let gotThrough = connack == 0 && Clock.nowMilliseconds() - started >= Self.stableMilliseconds
            if gotThrough {
                delay = shortest
            } else {
                let reason = connack == 0 ? "the broker dropped the connection at once: \(MosquittoClient.errorString(code))"
                    : connack.map(MosquittoClient.connackString) ?? MosquittoClient.errorString(code)
                handlers.onConnectFailed(reason, delay)
            }
            waitForWake(milliseconds: Int32(clamping: delay * 1000))
            if !gotThrough { delay = min(delay * 2, longest) }
        }
    }

    /// Runs one connection until it ends (error, keepalive, or our DISCONNECT after `requestStop`);
    /// returns why it ended, as a libmosquitto error code.
    private func serveConnection() -> Int32 {
        var disconnectDeadline: Int64? = nil
        var drained = true
        while mosquitto_socket(mosq) >= 0 {
            if stopping, disconnectDeadline == nil {
                mosquitto_disconnect(mosq)  // queued; written below, after which libmosquitto closes
                disconnectDeadline = Clock.nowMilliseconds() + Self.disconnectGrace
            }
            if let deadline = disconnectDeadline, Clock.nowMilliseconds() > deadline { break }

            var fds = [pollfd(fd: mosquitto_socket(mosq), events: Int16(POLLIN) | (mosquitto_want_write(mosq) ? Int16(POLLOUT) : 0), revents: 0),
                       pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, drained ? Self.tickMilliseconds : 0) < 0 && errno != EINTR {
                return MosquittoClient.code(MOSQ_ERR_ERRNO)
            }
            if fds[1].revents & Int16(POLLIN) != 0 { drainWake() }

            var code = MosquittoClient.success
            // Before the CONNACK a writable socket may also mean a TLS handshake waiting to go on,
            // which libmosquitto drives from its read path.
            let handshaking = connack == nil && fds[0].revents & Int16(POLLOUT) != 0
            if fds[0].revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 || !drained || handshaking {
                (drained, code) = readBurst()
            }
            if handedOver > 0 || !burst.isEmpty {
                handOver()
                handedOver = 0
                guard handlers.onBurstEnd() else {  // returns once everything handed over is committed
                    // Not all stored and stopping: no PUBACK may leave, so drop the connection;
                    // the broker delivers the unacknowledged messages again next time.
                    shutdown(mosquitto_socket(mosq), Int32(SHUT_RDWR))
                    return MosquittoClient.code(MOSQ_ERR_CONN_LOST)
                }
            }
            if code != MosquittoClient.success || mosquitto_socket(mosq) < 0 { return code }
            if mosquitto_want_write(mosq) || fds[0].revents & Int16(POLLOUT) != 0 {
                code = mosquitto_loop_write(mosq, 1)
                if code != MosquittoClient.success { return code }
            }
            code = mosquitto_loop_misc(mosq)  // PINGREQ when due; closes a connection whose PINGRESP is late
            if code != MosquittoClient.success && mosquitto_socket(mosq) < 0 { return code }
        }
        return MosquittoClient.success
    }

    /// Reads packets until the socket is empty or a burst is full; false when it stopped at the cap
    /// (more may wait, possibly inside TLS buffers that poll cannot see).
    private func readBurst() -> (drained: Bool, code: Int32) {
        while handedOver + burst.count < options.maxBurst {
            if burst.count >= options.slice { handOver() }
            errno = 0
            let code = mosquitto_loop_read(mosq, 1)
            // An error ends the connection; libmosquitto has reported it (onDisconnect) and closed.
            if code != MosquittoClient.success || mosquitto_socket(mosq) < 0 { return (true, code) }
            // EAGAIN: a read found nothing more. libmosquitto can also leave EAGAIN from writing its
            // wake-up byte, so ask the socket itself before ending the burst.
            if errno == EAGAIN || errno == EWOULDBLOCK, !socketReadable(), !tlsHasPending() { return (true, code) }
            if stopping { return (true, code) }
        }
        return (false, MosquittoClient.success)
    }

    /// Bytes OpenSSL has read and decrypted but libmosquitto not yet taken (poll cannot see them).
    /// `SSL_pending` is looked up at run time: libssl is loaded with libmosquitto, and Herald
    /// builds without OpenSSL's headers.
    private func tlsHasPending() -> Bool {
        guard options.caFile != nil, let pending = Self.sslPending, let ssl = mosquitto_ssl_get(mosq) else { return false }
        return pending(ssl) > 0
    }

    private static let sslPending: (@convention(c) (UnsafeMutableRawPointer) -> Int32)? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "SSL_pending").map { unsafeBitCast($0, to: (@convention(c) (UnsafeMutableRawPointer) -> Int32).self) }

    private func handOver() {
        guard !burst.isEmpty else { return }
        handedOver += burst.count
        let messages = burst
        burst.removeAll(keepingCapacity: true)
        handlers.onMessages(messages)
    }

    private func socketReadable() -> Bool {
        var fd = pollfd(fd: mosquitto_socket(mosq), events: Int16(POLLIN), revents: 0)
        return poll(&fd, 1, 0) > 0 && fd.revents & Int16(POLLIN) != 0
    }

    private func drainWake() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(wakeFD, &bytes, bytes.count) == bytes.count {}
    }

    private func waitForWake(milliseconds: Int32) {
        let until = Clock.nowMilliseconds() + Int64(milliseconds)
        while !stopping {
            let left = until - Clock.nowMilliseconds()
            guard left > 0 else { return }
            var fd = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
            if poll(&fd, 1, Int32(left)) > 0 { drainWake() }
        }
    }
}
