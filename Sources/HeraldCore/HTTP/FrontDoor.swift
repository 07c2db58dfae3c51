import Hummingbird

/// What every request passes before its route, in this order: the connection limits (429), CORS
/// preflights, the dashboard's static files, authentication (401); and on the way out, CORS
/// headers, the limit's place freed when the body is done, and every error in Herald's JSON
/// shape (`APIError`).
///
/// One middleware rather than one per concern on purpose: each async layer adds its frame to
/// the connection's task, and a Swift task keeps the deepest stack it ever had until it ends
/// (its allocator does not give slabs back). For a connection that holds an SSE stream for
/// hours, four layers were 8.7 KiB of its 32.
struct FrontDoor: RouterMiddleware {
    typealias Context = HeraldRequestContext
    let limits: ConnectionLimits
    let cors: CORSAllowList?
    let staticFiles: StaticFiles
    let authenticator: Authenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var slot: ConnectionLimits.Slot?
        do {
            // A request pipelined behind a live stream: the stream keeps the connection, so the
            // answer could never be sent; it is not run at all (the client retries it elsewhere).
            if ConnectionOwners.contains(context.channel) {
                throw APIError(.serviceUnavailable, "connection taken", detail: "this connection carries an event stream; send other requests on another connection")
            }
            let admitted = try limits.admit(context.remoteAddress?.ipAddress ?? "unknown")
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
                    context.access = try authenticator.access(to: request)
                    context.connectionSlot = admitted
                    response = try await next(request, context)
                }
                cors?.allow(&response, for: request)
            }
            admitted.free(after: &response)
            return response
        } catch {
            slot?.free()
            throw APIError.answer(for: error, to: request, context: context)
        }
    }
}
