import HTTPTypes
import Hummingbird
import Metrics

/// Decides who is asking (DESIGN §8): a Bearer token, the session cookie made from one, or, when
/// the config allows it, `?access_token=`. With no tokens configured everyone has full access.
/// `/healthz`, `/readyz` and the session door are open; static files are served before this runs
/// (`FrontDoor`).
struct Authenticator: Sendable {
    let authority: TokenAuthority
    let sessions: any SessionStore
    let allowQueryToken: Bool
    let forgery: ForgeryCheck

    static let cookieName = "herald_session"
    static let openPaths: Set = ["/healthz", "/readyz", "/api/session"]

    /// What the request may do; 401 without a valid credential where one is needed.
    func access(to request: Request) async throws -> Access {
        guard authority.isEnabled, !Self.openPaths.contains(request.uri.path) else {
            // No credential is asked (no tokens configured, or the session door itself): a write
            // a browser makes for another site is still refused.
            if !Self.hasBearer(request) { try forgery.check(request, requireOrigin: false) }
            return .everything
        }
        guard let access = try await access(for: request) else {
            Counter(label: "herald_http_refused_total", dimensions: [("reason", "unauthorized")]).increment()
            var error = APIError(.unauthorized, "unauthorized", detail: "a valid token is needed: Authorization: Bearer TOKEN, or a session from POST /api/session")
            error.headers[.wwwAuthenticate] = "Bearer"
            throw error
        }
        // A browser sends the cookie along with requests that other sites make it send; a
        // header (Bearer) it never adds by itself.
        if access.session != nil { try forgery.check(request, requireOrigin: true) }
        return access
    }

    static func hasBearer(_ request: Request) -> Bool {
        request.headers[.authorization]?.lowercased().hasPrefix("bearer ") == true
    }

    private func access(for request: Request) async throws -> Access? {
        if Self.hasBearer(request), let header = request.headers[.authorization] {
            return authority.access(forToken: String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        }
        if let session = request.cookies[Self.cookieName]?.value, !session.isEmpty {
            let idHash = TokenAuthority.sha256Hex(session)
            guard let digest = try await sessions.sessionTokenDigest(idHash: idHash, now: Clock.nowMilliseconds()),
                  var access = authority.access(forDigest: digest) else { return nil }
            access.session = idHash
            return access
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

    /// 403 when every selector names one channel (no wildcard) that the caller may not read: such
    /// a stream would stay silent for ever. A wildcard narrows to what the caller may read instead.
    func requireSomeReadable(_ selectors: SelectorSet) throws(APIError) {
        let forbidden = selectors.selectors.filter { !$0.hasWildcard && !access.canRead($0.text) }
        guard forbidden.count < selectors.selectors.count else {
            let names = forbidden.map { String(reflecting: $0.text) }.joined(separator: ", ")
            throw APIError(.forbidden, "forbidden", detail: "this token may not read channel\(forbidden.count > 1 ? "s" : "") \(names)")
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
