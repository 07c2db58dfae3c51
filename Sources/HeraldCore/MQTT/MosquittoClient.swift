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
    var reconnectDelayMin: Int = 1     // seconds, doubled after each failed attempt up to the max
    var reconnectDelayMax: Int = 30
    /// Messages read before they are acknowledged together; bounds one burst's memory.
    var maxBurst: Int = 1_000
    /// Messages read before a slice of the burst is handed over (`onMessages`).
    var slice: Int = 8
}

struct MosquittoError: Error, CustomStringConvertible {
    var operation: String
    var code: Int32
    var description: String { "\(operation) failed: \(MosquittoClient.errorString(code))" }
}

/// What the network thread tells its owner. All of it runs on that thread, one call at a time.
struct MosquittoHandlers: Sendable {
    var onConnect: @Sendable (_ code: Int32, _ sessionPresent: Bool) -> Void = { _, _ in }
    /// After a connection the broker accepted ends; `code` 0 means we disconnected.
    var onDisconnect: @Sendable (_ code: Int32) -> Void = { _ in }
    /// A connection attempt failed (unreachable, or refused by the broker); the next one follows
    /// after `retryIn` seconds.
    var onConnectFailed: @Sendable (_ reason: String, _ retryIn: Int) -> Void = { _, _ in }
    /// Messages of the current read burst, in arrival order, handed over in slices while the rest
    /// is still being read, so that storing them overlaps reading. Need not wait for the store.
    var onMessages: @Sendable ([MQTTMessage]) -> Void = { _ in }
    /// The burst is over: return once everything handed to `onMessages` is stored. Their QoS 1
    /// PUBACKs are written only after this returns true (DESIGN §5); false (something could not
    /// be stored and Herald is stopping) drops the connection instead, so none is acknowledged.
    var onBurstEnd: @Sendable () -> Bool = { true }
    /// The SUBACK for `subscribe`'s packet id: from here on the broker routes to us.
    var onSubscribe: @Sendable (_ mid: Int32) -> Void = { _ in }
    /// A message of ours went out: the PUBACK came (QoS 1), or it was written (QoS 0).
    var onPublish: @Sendable (_ mid: Int32) -> Void = { _ in }
}

/// The only Swift type (with its network thread, `MosquittoNetworkThread`) that calls libmosquitto.
///
/// Herald drives the connection from a thread of its own instead of `mosquitto_loop_start`, so that
/// messages can be stored in bursts: the thread reads every packet the socket holds, hands the
/// messages over in slices as it reads (`onMessages`), waits until all are stored (`onBurstEnd`),
/// and only then writes the PUBACKs that libmosquitto queued while reading. With `loop_start`
/// every message had to be its own commit.
///
/// Why `@unchecked Sendable` is sound: `mosq` is created in init and destroyed in the network
/// thread's deinit, after that thread has finished; libmosquitto locks its own state, so `publish`
/// and `subscribe` may come from any thread. `phase` is in a Mutex that callbacks never take.
final class MosquittoClient: @unchecked Sendable {
    private let network: MosquittoNetworkThread
    private let phase = Mutex(Phase.idle)
    private enum Phase {
        case idle
        case running(finished: DispatchSemaphore)
    }

    /// mosquitto_lib_init is not thread-safe and must run once per process; a static let is initialised
    /// exactly once, lazily and under swift_once.
    private static let libraryInit: Int32 = mosquitto_lib_init()

    init(options: MosquittoOptions, handlers: MosquittoHandlers) throws {
        try Self.check(Self.libraryInit, "mosquitto_lib_init")
        network = try MosquittoNetworkThread(options: options, handlers: handlers)
    }

    /// Starts the network thread, which connects and keeps reconnecting with backoff: a broker that
    /// is down is not an error. Only configuration errors (bad keepalive, TLS setup, …) throw.
    /// A no-op while running.
    func start() throws {
        try phase.withLock { phase in
            guard case .idle = phase else { return }
            try network.validateConnectOptions()
            let finished = DispatchSemaphore(value: 0)
            let network = network
            network.resetStop()
            let thread = Thread {
                network.run()
                finished.signal()
            }
            thread.name = "herald-mqtt"
            thread.start()
            phase = .running(finished: finished)
        }
    }

    /// Only valid while connected (MOSQ_ERR_NO_CONN otherwise), so subscribe from `onConnect`.
    /// Returns the packet id that `onSubscribe` reports once the broker acknowledged it.
    @discardableResult
    func subscribe(_ filter: String, qos: Int) throws -> Int32 {
        var mid: Int32 = 0
        try Self.check(mosquitto_subscribe(network.mosq, &mid, filter, Int32(clamping: qos)), "mosquitto_subscribe")
        network.wake()
        return mid
    }

    func unsubscribe(_ filter: String) throws {
        try Self.check(mosquitto_unsubscribe(network.mosq, nil, filter), "mosquitto_unsubscribe")
        network.wake()
    }

    /// Returns the packet id that `onPublish` reports once the message went out.
    @discardableResult
    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool) throws -> Int32 {
        guard let length = Int32(exactly: payload.count) else {
            throw MosquittoError(operation: "mosquitto_publish", code: Self.code(MOSQ_ERR_PAYLOAD_SIZE))
        }
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes { bytes in  // baseAddress may be nil for [], which libmosquitto accepts with length 0
            mosquitto_publish(network.mosq, &mid, topic, length, bytes.baseAddress, Int32(clamping: qos), retain)
        }
        try Self.check(rc, "mosquitto_publish")
        network.wake()  // the packet is only queued; the network thread writes it
        return mid
    }

    /// Disconnects cleanly (the broker keeps a persistent session) and waits for the network thread;
    /// `onDisconnect(0)` fires before it returns if connected. Idempotent. Never call it from a
    /// handler: it waits for the very thread that runs them.
    func stop() {
        phase.withLock { phase in
            guard case .running(let finished) = phase else { return }
            network.requestStop()
            finished.wait()
            phase = .idle
        }
    }

    deinit {
        // Not stopped: let the thread finish on its own; it keeps `network` (and so `mosq`) alive.
        if case .running = phase.withLock({ $0 }) { network.requestStop() }
    }

    static func errorString(_ code: Int32) -> String { String(cString: mosquitto_strerror(code)) }
    /// For `onConnect` codes (MQTT 3.1.1 CONNACK return codes: 4 bad credentials, 5 not authorised).
    static func connackString(_ code: Int32) -> String { String(cString: mosquitto_connack_string(code)) }

    static let success = code(MOSQ_ERR_SUCCESS)
    static func code(_ error: mosq_err_t) -> Int32 { Int32(error.rawValue) }
    static func check(_ rc: Int32, _ operation: String) throws {
        if rc != success { throw MosquittoError(operation: operation, code: rc) }
    }
}

extension MQTTMessage {
    /// Deep copy: libmosquitto frees topic and payload when the callback returns. payload may be NULL.
    init(copying message: mosquitto_message) {
        topic = message.topic.map { String(cString: $0) } ?? ""
        payload = message.payload.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: max(0, Int(message.payloadlen)))) } ?? []
        qos = Int(message.qos)
        retain = message.retain
        mid = message.mid
    }
}
