import HTTPTypes
import Hummingbird
import Metrics

/// Decides who is asking (DESIGN §8): a Bearer token, the session cookie made from one, or, when
/// the config allows it, `?access_token=`. With no tokens configured everyone has full access.
/// `/healthz`, `/readyz` and the session door are open; static files are served before this runs
/// (`FrontDoor`).
struct Authenticator: Sendable {
    let authority: TokenAuthority
    let log: EventLog
    let allowQueryToken: Bool

    static let cookieName = "herald_session"
    static let openPaths: Set = ["/healthz", "/readyz", "/api/session"]

    /// What the request may do; 401 without a valid credential where one is needed.
    func access(to request: Request) throws -> Access {
        guard authority.isEnabled, !Self.openPaths.contains(request.uri.path) else { return .everything }
        guard let access = try access(for: request) else {
            Counter(label: "herald_http_refused_total", dimensions: [("reason", "unauthorized")]).increment()
            var error = APIError(.unauthorized, "unauthorized", detail: "a valid token is needed: Authorization: Bearer TOKEN, or a session from POST /api/session")
            error.headers[.wwwAuthenticate] = "Bearer"
            throw error
        }
        return access
    }

    private func access(for request: Request) throws -> Access? {
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            return authority.access(forToken: String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        }
        if let session = request.cookies[Self.cookieName]?.value, !session.isEmpty {
            guard let name = try log.sessionTokenName(idHash: TokenAuthority.sha256Hex(session)) else { return nil }
            return authority.access(named: name)
        }
        if allowQueryToken, let token = request.queryValue("access_token") {
            return authority.access(forToken: token)
        }
        return nil
    }
}

extension HeraldRequestContext {
    /// 403 unless the caller may read `channel`.
    func requireRead(_ channel: String) throws(APIError) {
        guard access.canRead(channel) else {
            throw APIError(.forbidden, "forbidden", detail: "this token may not read channel \(String(reflecting: channel))")
        }
    }

    func requirePublish(_ channel: String) throws(APIError) {
        guard access.canPublish(channel) else {
            throw APIError(.forbidden, "forbidden", detail: "this token may not publish to channel \(String(reflecting: channel))")
        }
    }

    func requireAdmin() throws(APIError) {
        guard access.admin else { throw APIError(.forbidden, "forbidden", detail: "this needs an admin token") }
    }
}
