import Hummingbird
import Metrics
import Synchronization

/// Caps concurrent requests, in all and per client address (429 past either). A stream is one
/// request for its whole life, so this is what bounds SSE connections.
final class ConnectionLimits: Sendable {
    private struct State {
        var total = 0
        var perClient: [String: Int] = [:]
    }

    private let state = Mutex(State())
    let maxTotal: Int
    let maxPerClient: Int

    init(maxTotal: Int, maxPerClient: Int) {
        self.maxTotal = maxTotal
        self.maxPerClient = maxPerClient
    }

    /// Takes a slot, or says which limit is full.
    func admit(_ client: String) -> String? {
        state.withLock { state in
            if state.total >= maxTotal { return "the server is at its limit of \(maxTotal) connections" }
            if state.perClient[client, default: 0] >= maxPerClient {
                return "this address is at its limit of \(maxPerClient) connections"
            }
            state.total += 1
            state.perClient[client, default: 0] += 1
            return nil
        }
    }

    func release(_ client: String) {
        state.withLock { state in
            state.total -= 1
            let left = state.perClient[client, default: 1] - 1
            state.perClient[client] = left > 0 ? left : nil
        }
    }

    struct Middleware: RouterMiddleware {
        typealias Context = HeraldRequestContext
        let limits: ConnectionLimits

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            let client = context.remoteAddress?.ipAddress ?? "unknown"
            if let refusal = limits.admit(client) {
                Counter(label: "herald_http_refused_total", dimensions: [("reason", "connections")]).increment()
                var error = APIError(.tooManyRequests, "too many connections", detail: refusal)
                error.headers[.retryAfter] = "5"
                throw error
            }
            do {
                var response = try await next(request, context)
                // Released when the body is done: for a stream, when it ends.
                let body = response.body
                response.body = ResponseBody(contentLength: body.contentLength) { writer in
                    defer { limits.release(client) }
                    try await body.write(writer)
                }
                return response
            } catch {
                limits.release(client)
                throw error
            }
        }
    }
}
