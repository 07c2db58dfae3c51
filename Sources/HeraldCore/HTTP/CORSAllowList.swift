import HTTPTypes
import Hummingbird

/// CORS for an exact list of origins: the origin is echoed (never `*`, since credentials are
/// allowed), with `Vary: Origin`; preflights are answered here.
struct CORSAllowList<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let allowed = origins.contains(origin)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            guard allowed else { throw APIError(.forbidden, "forbidden", detail: "origin \(origin) is not in server.cors_origins") }
            var response = Response(status: .noContent)
            add(origin, to: &response.headers)
            response.headers[.accessControlAllowMethods] = "GET, POST, DELETE, OPTIONS"
            response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type, Last-Event-ID"
            response.headers[.accessControlMaxAge] = "600"
            return response
        }
        var response = try await next(request, context)
        if allowed { add(origin, to: &response.headers) }
        return response
    }

    private func add(_ origin: String, to headers: inout HTTPFields) {
        headers[.accessControlAllowOrigin] = origin
        headers[.accessControlAllowCredentials] = "true"
        headers[.vary] = "Origin"
    }
}
