import Hummingbird
import Metrics
import NIOCore
import Synchronization

/// One budget of concurrent requests, in all and per client (429 past either). Streams and
/// short requests each have their own (`FrontDoor`), so that open streams can never lock out
/// publishing, health checks or the API. A stream is one request for its whole life. A
/// loopback client is the gateway itself and meets only the total (`ClientAddress.isLoopback`).
final class ConnectionLimits: Sendable {
    private struct State {
        var total = 0
        var perClient: [String: Int] = [:]
    }

    private let state = Mutex(State())
    /// What is counted, for messages and the refusal metric: `streams` or `requests`.
    let kind: String
    let maxTotal: Int
    let maxPerClient: Int

    init(kind: String, maxTotal: Int, maxPerClient: Int) {
        self.kind = kind
        self.maxTotal = maxTotal
        self.maxPerClient = maxPerClient
    }

    /// A place for a request from `client`, or 429 when either limit is full.
    func admit(_ client: String) throws(APIError) -> Slot {
        let refusal: String? = state.withLock { state in
            if state.total >= maxTotal { return "the server is at its limit of \(maxTotal) concurrent \(kind)" }
            if state.perClient[client, default: 0] >= maxPerClient, !ClientAddress.isLoopback(client) {
                return "client \(client) is at its limit of \(maxPerClient) concurrent \(kind)"
            }
            state.total += 1
            state.perClient[client, default: 0] += 1
            return nil
        }
        guard let refusal else { return Slot(limits: self, client: client) }
        Counter(label: "herald_http_refused_total", dimensions: [("reason", kind)]).increment()
        var error = APIError(.tooManyRequests, "too many \(kind)", detail: refusal)
        error.headers[.retryAfter] = "5"
        throw error
    }

    /// Places taken now.
    var inUse: Int { state.withLock { $0.total } }

    fileprivate func release(_ client: String) {
        state.withLock { state in
            state.total -= 1
            let left = state.perClient[client, default: 1] - 1
            state.perClient[client] = left > 0 ? left : nil
        }
    }

    /// One admitted request's place: freed when its response is done, or, for a stream handed
    /// over to its connection's loop (`LiveStream`), when the connection closes.
    final class Slot: Sendable {
        private let limits: ConnectionLimits
        private let client: String
        private let freed = Atomic<Bool>(false)
        private let heldByConnection = Atomic<Bool>(false)

        fileprivate init(limits: ConnectionLimits, client: String) {
            (self.limits, self.client) = (limits, client)
        }

        /// A response dropped before its body ran (its head could not be written) frees it here.
        deinit { free() }

        /// The response outlives its request: keep the place until `channel` closes.
        func holdUntilClosed(_ channel: any Channel) {
            heldByConnection.store(true, ordering: .sequentiallyConsistent)
            channel.closeFuture.whenComplete { _ in self.free() }
        }

        /// Frees the place once `response`'s body is done (for a stream handed over, at close).
        func free(after response: inout Response) {
            let body = response.body
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                defer { if !self.heldByConnection.load(ordering: .sequentiallyConsistent) { self.free() } }
                try await body.write(writer)
            }
        }

        func free() {
            if !freed.exchange(true, ordering: .sequentiallyConsistent) { limits.release(client) }
        }
    }
}
