import CMosquitto
import Foundation
import Synchronization

/// Publishes QoS 1 messages through libmosquitto (the same library Herald uses), with up to
/// `inflight` messages awaiting PUBACK. Counts the PUBACKs.
///
/// `@unchecked Sendable`: `mosq` is created in init and destroyed in `close()` after the network
/// thread is stopped; libmosquitto is thread-safe for publish. The callbacks see only `state`.
final class MQTTPublisher: @unchecked Sendable {
    final class State: Sendable {
        let acked = Atomic<Int>(0)
        let connected = Atomic<Bool>(false)
    }

    private let mosq: OpaquePointer
    let state = State()
    private static let libraryInit: Int32 = mosquitto_lib_init()

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(host: String, port: Int, inflight: Int32) throws {
        _ = Self.libraryInit
        let userdata = Unmanaged.passUnretained(state).toOpaque()
        guard let mosq = mosquitto_new("herald-bench-\(getpid())", true, userdata) else {
            throw Failure(description: "mosquitto_new failed")
        }
        self.mosq = mosq
        mosquitto_int_option(mosq, MOSQ_OPT_SEND_MAXIMUM, inflight)
        mosquitto_connect_callback_set(mosq) { _, userdata, code in
            guard let userdata, code == 0 else { return }
            Unmanaged<State>.fromOpaque(userdata).takeUnretainedValue().connected.store(true, ordering: .sequentiallyConsistent)
        }
        mosquitto_publish_callback_set(mosq) { _, userdata, _ in
            guard let userdata else { return }
            Unmanaged<State>.fromOpaque(userdata).takeUnretainedValue().acked.add(1, ordering: .relaxed)
        }
        let code = mosquitto_connect(mosq, host, Int32(port), 30)
        guard code == MOSQ_ERR_SUCCESS.rawValue else {
            mosquitto_destroy(mosq)
            throw Failure(description: "cannot connect to the broker at \(host):\(port): \(String(cString: mosquitto_strerror(code)))")
        }
        mosquitto_loop_start(mosq)
    }

    func waitConnected(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !state.connected.load(ordering: .sequentiallyConsistent) {
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    func publish(topic: String, payload: String) -> Bool {
        var payload = payload
        return payload.withUTF8 { bytes in
            mosquitto_publish(mosq, nil, topic, Int32(bytes.count), bytes.baseAddress, 1, false) == MOSQ_ERR_SUCCESS.rawValue
        }
    }

    /// Messages 0..<count at `rate` per second (0: as fast as libmosquitto queues them).
    func publish(topic: String, count: Int, rate: Double, deadline: ContinuousClock.Instant) async -> HTTPPublisher.Outcome {
        await HTTPPublisher.Outcome.paced(count: count, rate: rate, deadline: deadline) { seq, nanos in
            publish(topic: topic, payload: Endpoint.payload(seq: seq, nanos: nanos))
        }
    }

    func close() {
        mosquitto_disconnect(mosq)
        mosquitto_loop_stop(mosq, false)
        mosquitto_destroy(mosq)
    }
}
