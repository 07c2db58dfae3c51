import HTTPTypes
import Hummingbird

/// CORS for an exact list of origins, compared without case as origins are (browsers send them
/// lowercased): the origin is echoed (never `*`, since credentials are allowed), with
/// `Vary: Origin`; preflights are answered here (`FrontDoor`). `ForgeryCheck` takes the same list.
struct CORSAllowList: Sendable {
    /// Lowercased.
    let origins: Set<String>

    init(origins: [String]) {
        self.origins = Set(origins.map { $0.lowercased() })
    }

    func contains(_ origin: String) -> Bool { origins.contains(origin.lowercased()) }

    /// The answer to a preflight (403 for an origin not on the list); nil for any other request.
    func preflight(_ request: Request) throws -> Response? {
        guard let origin = request.headers[.origin], request.method == .options,
              request.headers[.accessControlRequestMethod] != nil else { return nil }
        guard contains(origin) else { throw APIError(.forbidden, "forbidden", detail: "origin \(origin) is not in server.cors_origins") }
        var response = Response(status: .noContent)
        add(origin, to: &response.headers)
        response.headers[.accessControlAllowMethods] = "GET, POST, DELETE, OPTIONS"
        response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type, Last-Event-ID"
        response.headers[.accessControlMaxAge] = "600"
        return response
    }

    /// Lets an allowed origin read `response`.
    func allow(_ response: inout Response, for request: Request) {
        guard let origin = request.headers[.origin], contains(origin) else { return }
        add(origin, to: &response.headers)
    }

    private func add(_ origin: String, to headers: inout HTTPFields) {
        headers[.accessControlAllowOrigin] = origin
        headers[.accessControlAllowCredentials] = "true"
        headers[.vary] = "Origin"
    }
}
