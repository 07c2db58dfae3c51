import AsyncHTTPClient
import NIOCore

/// Publishes over HTTP, one request at a time on a kept-alive connection (so the server sees
/// the events in sequence order), paced to a target rate.
struct HTTPPublisher {
    let endpoint: Endpoint
    let client: HTTPClient

    struct Outcome {
        var sent = 0
        var failed = 0
        var firstAt: UInt64 = 0
        var lastAt: UInt64 = 0

        /// Calls `send(seq, nanos)` for 0..<count at `rate` per second (0: as fast as `send`
        /// returns) until `deadline`; `nanos` is the send time that goes into the payload.
        static func paced(count: Int, rate: Double, deadline: ContinuousClock.Instant,
                          send: (_ seq: Int, _ nanos: UInt64) async -> Bool) async -> Outcome {
            var outcome = Outcome()
            let start = ContinuousClock.now
            for seq in 0..<count {
                if rate > 0 {
                    let due = start + .nanoseconds(Int64(Double(seq) * 1e9 / rate))
                    if due > ContinuousClock.now { try? await Task.sleep(until: due, clock: .continuous) }
                }
                if ContinuousClock.now > deadline { break }
                let now = Monotonic.now()
                if seq == 0 { outcome.firstAt = now }
                outcome.lastAt = now
                outcome.sent += 1
                if !(await send(seq, now)) { outcome.failed += 1 }
            }
            return outcome
        }
    }

    /// Events 0..<count at `rate` per second (0: as fast as the server answers), until `deadline`.
    func publish(count: Int, rate: Double, deadline: ContinuousClock.Instant) async -> Outcome {
        await Outcome.paced(count: count, rate: rate, deadline: deadline) { seq, nanos in
            await post(endpoint.publishURL, body: endpoint.publishBody(seq: seq, nanos: nanos))
        }
    }

    func post(_ url: String, body: String) async -> Bool {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            return (200..<300).contains(response.status.code)
        } catch {
            return false
        }
    }
}
