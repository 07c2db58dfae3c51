import CMosquitto
import Foundation
import Synchronization

/// One MQTT message as copied out of libmosquitto's callback (the library frees its buffers after the callback).
struct MQTTMessage: Sendable, Equatable {
    var topic: String
    var payload: [UInt8]
    var qos: Int
    var retain: Bool
    var mid: Int32
}

struct MosquittoOptions: Sendable {
    var host: String
    var port: Int
    var clientID: String
    var cleanSession: Bool = false
    var keepaliveSeconds: Int = 30     // 0 = none; libmosquitto rejects 1...4 (start() throws)
    var username: String? = nil
    var password: String? = nil
    var caFile: String? = nil          // when set: mosquitto_tls_set(ca) → mqtts
    var reconnectDelayMin: Int = 1     // seconds; libmosquitto's "exponential" backoff is min·n², capped at max
    var reconnectDelayMax: Int = 30
}

struct MosquittoError: Error, CustomStringConvertible {
    var operation: String
    var code: Int32
    var description: String { "\(operation) failed: \(MosquittoClient.errorString(code))" }
}

/// The only Swift type that calls libmosquitto. Threaded mode (mosquitto_loop_start): callbacks run on
/// libmosquitto's own network thread. `onMessage` is called synchronously on that thread and the
/// QoS 1 PUBACK is only sent after it returns — callers rely on that to block until their commit.
/// While a callback blocks, the connection does nothing else (no reads, no PINGREQ), so keep commits
/// well under the keepalive. Never call `start()`/`stop()` from a callback: stop joins that very thread.
///
/// Why `@unchecked Sendable` is sound: `mosq` is set once in init and destroyed only after the network
/// thread has been joined; libmosquitto is built with threading and locks its own state, so its calls
/// may come from any thread. Our only mutable state, `phase`, lives in a Mutex that callbacks never
/// take. The network thread never sees this object at all: its userdata is `handlers`, an immutable box.
final class MosquittoClient: @unchecked Sendable {
    private let mosq: OpaquePointer
    private let handlers: Handlers
    private let options: MosquittoOptions
    /// Held across connect/loop_start/loop_stop so that start, stop and first-connect retries serialise.
    private let phase = Mutex(Phase.idle)
    private enum Phase: Equatable {
        case idle
        case firstConnect(attempt: UInt64)  // no network thread yet; we retry (see scheduleFirstConnect)
        case looping                        // network thread running; it handles every reconnect itself
    }
    private static let attempts = Atomic<UInt64>(0)  // tells a stale retry from the current one

    /// mosquitto_lib_init is not thread-safe and must run once per process; a static let is initialised
    /// exactly once, lazily and under swift_once.
    private static let libraryInit: Int32 = mosquitto_lib_init()

    init(options: MosquittoOptions,
         onConnect: @escaping @Sendable (_ code: Int32, _ sessionPresent: Bool) -> Void,
         onDisconnect: @escaping @Sendable (_ code: Int32) -> Void,
         onMessage: @escaping @Sendable (MQTTMessage) -> Void,
         onSubscribe: @escaping @Sendable (_ mid: Int32) -> Void = { _ in }) throws {
        try Self.check(Self.libraryInit, "mosquitto_lib_init")
        let handlers = Handlers(onConnect: onConnect, onDisconnect: onDisconnect, onMessage: onMessage, onSubscribe: onSubscribe)
        // Unretained: `handlers` is owned by this object (or deinit's teardown thread), which outlives the loop.
        let userdata = Unmanaged.passUnretained(handlers).toOpaque()
        let id: String? = options.clientID.isEmpty ? nil : options.clientID  // nil → random id (clean sessions only)
        guard let mosq = mosquitto_new(id, options.cleanSession, userdata) else {
            throw MosquittoError(operation: "mosquitto_new", code: errno == ENOMEM ? Self.code(MOSQ_ERR_NOMEM) : Self.code(MOSQ_ERR_INVAL))
        }
        do {
            try Self.configure(mosq, options)
        } catch {
            mosquitto_destroy(mosq)
            throw error
        }
        self.mosq = mosq
        self.handlers = handlers
        self.options = options
    }

    private static func configure(_ mosq: OpaquePointer, _ options: MosquittoOptions) throws {
        // 3.1.1 on purpose: its CONNACK carries the session-present flag we report; v5 is not wanted.
        try check(mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311), "mosquitto_int_option(PROTOCOL_VERSION)")
        try check(mosquitto_reconnect_delay_set(mosq, UInt32(clamping: options.reconnectDelayMin),
                                                UInt32(clamping: options.reconnectDelayMax), true), "mosquitto_reconnect_delay_set")
        if let username = options.username {
            try check(mosquitto_username_pw_set(mosq, username, options.password), "mosquitto_username_pw_set")
        }
        if let caFile = options.caFile {  // fails here (MOSQ_ERR_INVAL) if the file is unreadable
            try check(mosquitto_tls_set(mosq, caFile, nil, nil, nil, nil), "mosquitto_tls_set")
        }
        // Capture-free closures, so they convert to C function pointers; state comes in via userdata.
        mosquitto_connect_with_flags_callback_set(mosq) { _, userdata, rc, flags in
            Handlers.from(userdata).onConnect(rc, flags & 1 != 0)  // bit 0 of CONNACK flags = session present
        }
        mosquitto_subscribe_callback_set(mosq) { _, userdata, mid, _, _ in
            Handlers.from(userdata).onSubscribe(mid)  // the SUBACK: from here on the broker routes to us
        }
        mosquitto_disconnect_callback_set(mosq) { _, userdata, rc in
            Handlers.from(userdata).onDisconnect(rc)
        }
        mosquitto_message_callback_set(mosq) { _, userdata, message in
            guard let message else { return }
            Handlers.from(userdata).onMessage(MQTTMessage(copying: message.pointee))
        }
    }

    /// Connects in the background. A broker that is down (refused, unreachable, DNS failure) is not an
    /// error: we keep retrying with backoff and `onConnect` fires once it succeeds. Only configuration
    /// errors (bad keepalive, TLS setup, …) throw. A no-op unless idle.
    func start() throws {
        try phase.withLock { phase in
            guard phase == .idle else { return }
            let rc = mosquitto_connect_async(mosq, options.host, Int32(clamping: options.port),
                                             Int32(clamping: options.keepaliveSeconds))
            if rc == Self.success {
                try Self.check(mosquitto_loop_start(mosq), "mosquitto_loop_start")
                phase = .looping
            } else if Self.brokerUnreachable.contains(rc) {
                let attempt = Self.attempts.add(1, ordering: .relaxed).newValue
                phase = .firstConnect(attempt: attempt)
                scheduleFirstConnect(attempt, delay: options.reconnectDelayMin)
            } else {
                throw MosquittoError(operation: "mosquitto_connect_async", code: rc)
            }
        }
    }

    /// libmosquitto 2.0.11 only reconnects connections that once got through: if the first connect fails,
    /// the thread from mosquitto_loop_start polls forever for a state change that never comes. So until
    /// the first connect succeeds there is no network thread and we retry here, doubling the delay.
    private func scheduleFirstConnect(_ attempt: UInt64, delay: Int) {
        let seconds = max(1, delay)
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds)) { [weak self] in
            guard let self else { return }
            phase.withLock { phase in
                guard phase == .firstConnect(attempt: attempt) else { return }  // stopped (or restarted) meanwhile
                if mosquitto_reconnect_async(mosq) == Self.success, mosquitto_loop_start(mosq) == Self.success {
                    phase = .looping
                } else {
                    scheduleFirstConnect(attempt, delay: min(seconds * 2, options.reconnectDelayMax))
                }
            }
        }
    }

    /// Only valid while connected (MOSQ_ERR_NO_CONN otherwise), so subscribe from `onConnect`.
    /// Returns the packet id that `onSubscribe` reports once the broker acknowledged it.
    @discardableResult
    func subscribe(_ filter: String, qos: Int) throws -> Int32 {
        var mid: Int32 = 0
        try Self.check(mosquitto_subscribe(mosq, &mid, filter, Int32(clamping: qos)), "mosquitto_subscribe")
        return mid
    }

    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool) throws {
        guard let length = Int32(exactly: payload.count) else {
            throw MosquittoError(operation: "mosquitto_publish", code: Self.code(MOSQ_ERR_PAYLOAD_SIZE))
        }
        let rc = payload.withUnsafeBytes { bytes in  // baseAddress may be nil for [], which libmosquitto accepts with length 0
            mosquitto_publish(mosq, nil, topic, length, bytes.baseAddress, Int32(clamping: qos), retain)
        }
        try Self.check(rc, "mosquitto_publish")
    }

    /// Disconnects and joins the network thread; `onDisconnect(0)` fires before it returns if connected.
    /// Idempotent; call from any thread except a callback.
    func stop() {
        phase.withLock { phase in
            defer { phase = .idle }
            guard phase == .looping else { return }  // .firstConnect: the pending retry sees .idle and gives up
            // Marks the client as disconnecting so the loop exits instead of reconnecting; returns
            // MOSQ_ERR_NO_CONN when offline, which is fine. Also wakes a loop sleeping in its backoff.
            mosquitto_disconnect(mosq)
            mosquitto_loop_stop(mosq, false)
        }
    }

    deinit {
        guard phase.withLock({ $0 == .looping }) else {
            mosquitto_destroy(mosq)
            return
        }
        // Not stopped: we may be running on the network thread itself (a callback held the last reference),
        // where joining is impossible and destroying would free memory the loop is still using. So tear
        // down on a fresh thread, which keeps `handlers` (the callbacks' userdata) alive until the join.
        let handle = Handle(mosq: mosq), handlers = handlers
        Thread.detachNewThread {
            mosquitto_disconnect(handle.mosq)
            mosquitto_loop_stop(handle.mosq, false)
            mosquitto_destroy(handle.mosq)
            withExtendedLifetime(handlers) {}
        }
    }

    static func errorString(_ code: Int32) -> String { String(cString: mosquitto_strerror(code)) }
    /// For `onConnect` codes (MQTT 3.1.1 CONNACK return codes: 4 bad credentials, 5 not authorised).
    static func connackString(_ code: Int32) -> String { String(cString: mosquitto_connack_string(code)) }

    // mosquitto_connect_async errors meaning "broker not reachable (yet)": worth retrying.
    private static let brokerUnreachable = Set([MOSQ_ERR_ERRNO, MOSQ_ERR_EAI, MOSQ_ERR_NO_CONN, MOSQ_ERR_CONN_LOST].map(code))
    private static let success = code(MOSQ_ERR_SUCCESS)
    private static func code(_ error: mosq_err_t) -> Int32 { Int32(error.rawValue) }
    private static func check(_ rc: Int32, _ operation: String) throws {
        if rc != success { throw MosquittoError(operation: operation, code: rc) }
    }
}

/// The network thread's userdata: immutable, so genuinely Sendable. Kept apart from MosquittoClient so
/// the loop never holds (or deinitialises) the client.
private final class Handlers: Sendable {
    let onConnect: @Sendable (Int32, Bool) -> Void
    let onDisconnect: @Sendable (Int32) -> Void
    let onMessage: @Sendable (MQTTMessage) -> Void
    let onSubscribe: @Sendable (Int32) -> Void

    init(onConnect: @escaping @Sendable (Int32, Bool) -> Void, onDisconnect: @escaping @Sendable (Int32) -> Void,
         onMessage: @escaping @Sendable (MQTTMessage) -> Void, onSubscribe: @escaping @Sendable (Int32) -> Void) {
        (self.onConnect, self.onDisconnect, self.onMessage, self.onSubscribe) = (onConnect, onDisconnect, onMessage, onSubscribe)
    }

    static func from(_ userdata: UnsafeMutableRawPointer?) -> Handlers {
        Unmanaged<Handlers>.fromOpaque(userdata!).takeUnretainedValue()
    }
}

/// Carries the handle to the teardown thread in deinit; nothing else uses it after that point.
private struct Handle: @unchecked Sendable { let mosq: OpaquePointer }

extension MQTTMessage {
    /// Deep copy: libmosquitto frees topic and payload when the callback returns. payload may be NULL.
    fileprivate init(copying message: mosquitto_message) {
        topic = message.topic.map { String(cString: $0) } ?? ""
        payload = message.payload.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: max(0, Int(message.payloadlen)))) } ?? []
        qos = Int(message.qos)
        retain = message.retain
        mid = message.mid
    }
}
