import HTTPTypes
import Hummingbird
import Logging
import Metrics

/// What every request passes before its route, in this order: what can be refused from the head
/// alone (a transfer coding Herald cannot read, a declared body over the limit), the limits of
/// its budget (429; streams and short requests each have one), CORS preflights, the dashboard's
/// static files, authentication (401); and on the way out, CORS headers, the budget's place
/// freed when the body is done, and every error in Herald's JSON shape (`APIError`).
///
/// One middleware rather than one per concern on purpose: each async layer adds its frame to
/// the connection's task, and a Swift task keeps the deepest stack it ever had until it ends
/// (its allocator does not give slabs back). For a connection that holds an SSE stream for
/// hours, four layers were 8.7 KiB of its 32.
struct FrontDoor: RouterMiddleware {
    typealias Context = HeraldRequestContext
    let streams: ConnectionLimits
    let requests: ConnectionLimits
    let clients: ClientAddress
    let maxBodyBytes: Int
    let cors: CORSAllowList?
    let staticFiles: StaticFiles
    let authenticator: Authenticator
    /// Malformed requests are logged once a minute per client: they are the client's mistake,
    /// and a client repeating one must not flood the journal.
    let badRequests = OncePerMinuteLog()
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var slot: ConnectionLimits.Slot?
        let client = clients.client(of: request, peer: context.remoteAddress)
        do {
            try Self.checkBodyFraming(request, limit: maxBodyBytes)
            let admitted = try (Self.isStream(request) ? streams : requests).admit(client)
            slot = admitted
            var response: Response
            if let preflight = try cors?.preflight(request) {
                response = preflight
            } else {
                switch staticFiles.lookup(request) {
                case .outside:
                    throw APIError.notFound("no such file")
                case .file:
                    response = try await staticFiles.serve(request, context: context)
                case .absent:
                    var context = context
                    context.access = try await authenticator.access(to: request)
                    context.connectionSlot = admitted
                    response = try await next(request, context)
                }
                cors?.allow(&response, for: request)
            }
            admitted.free(after: &response)
            response.headers[.xContentTypeOptions] = "nosniff"
            return response
        } catch {
            slot?.free()
            let answer = APIError.answer(for: error, to: request, context: context)
            if answer.status == .badRequest || answer.status == .notImplemented {
                badRequests.warn(logger, key: client, "bad request", metadata: [
                    "client": "\(client)", "path": "\(request.uri.path)", "detail": "\(answer.detail)"])
            }
            throw answer
        }
    }

    /// `GET /sse` and `GET /channels/{name}/sse` draw on the stream budget. Segments are compared
    /// as the router matches them, empty ones left out, so `//sse/` cannot pass for a short request.
    static func isStream(_ request: Request) -> Bool {
        guard request.method == .get || request.method == .head else { return false }
        let segments = request.uri.path.split(separator: "/", omittingEmptySubsequences: true)
        guard segments.last == "sse" else { return false }
        return segments.count == 1 ? segments[0] == "sse" : segments.count >= 3 && segments[0] == "channels"
    }

    /// What is refused before a byte of the body is read, with the connection closed after the
    /// answer (the unread body would otherwise be waited for): a transfer coding other than
    /// chunked, the only one HTTP/1.1's decoder reads, and a Content-Length over the limit.
    static func checkBodyFraming(_ request: Request, limit: Int) throws(APIError) {
        if let coding = request.headers[.transferEncoding], coding.lowercased() != "chunked" {
            Counter(label: "herald_http_refused_total", dimensions: [("reason", "transfer_coding")]).increment()
            throw APIError(.notImplemented, "not implemented",
                           detail: "transfer coding \(String(reflecting: coding)) is not supported; send the body plain or chunked")
                .closingConnection()
        }
        if let text = request.headers[.contentLength] {
            guard let length = Int(text), length >= 0 else {
                throw APIError.badRequest("Content-Length must be a whole number of bytes").closingConnection()
            }
            if length > limit {
                Counter(label: "herald_http_refused_total", dimensions: [("reason", "body_size")]).increment()
                throw APIError(.contentTooLarge, "content too large",
                               detail: "the request body is \(length) bytes, over the limit of \(limit) (server.max_body_bytes)")
                    .closingConnection()
            }
        }
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
}
