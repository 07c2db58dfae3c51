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
    let forgery: ForgeryCheck

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
        // A browser sends the cookie along with requests that other sites make it send; a
        // header (Bearer) it never adds by itself.
        if access.session != nil { try forgery.check(request) }
        return access
    }

    private func access(for request: Request) throws -> Access? {
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            return authority.access(forToken: String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        }
        if let session = request.cookies[Self.cookieName]?.value, !session.isEmpty {
            let idHash = TokenAuthority.sha256Hex(session)
            guard let digest = try log.sessionTokenDigest(idHash: idHash),
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

/// Cross-site request forgery, for requests authenticated by the session cookie: a write must
/// come from Herald's own origin (the `Host` it was asked by) or one in `cors_origins`, named by
/// `Origin` or else `Referer`, and a body must be JSON, which a plain HTML form cannot send.
/// SameSite=Strict alone does not do: it takes two ports of one host for the same site.
struct ForgeryCheck: Sendable {
    let allowedOrigins: Set<String>

    static let safeMethods: Set<HTTPRequest.Method> = [.get, .head, .options]

    func check(_ request: Request) throws(APIError) {
        guard !Self.safeMethods.contains(request.method) else { return }
        guard let origin = Self.origin(of: request) else {
            throw refusal("a write signed in by cookie needs an Origin or Referer header")
        }
        guard allowedOrigins.contains(origin) || Self.authority(of: origin).map(String.init) == request.head.authority?.lowercased() else {
            throw refusal("origin \(origin) may not write with this session (allowed: this server's own origin and server.cors_origins)")
        }
        if Self.hasBody(request) {
            let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/json" else {
                throw refusal("a write signed in by cookie must send Content-Type: application/json", status: .unsupportedMediaType)
            }
        }
    }

    private func refusal(_ detail: String, status: HTTPResponse.Status = .forbidden) -> APIError {
        Counter(label: "herald_http_refused_total", dimensions: [("reason", "csrf")]).increment()
        return APIError(status, "cross-site request refused", detail: detail)
    }

    /// `scheme://host[:port]`, lowercased, from `Origin`, or from `Referer` where a browser sent none.
    static func origin(of request: Request) -> String? {
        if let origin = request.headers[.origin], origin != "null" { return origin.lowercased() }
        guard let referer = request.headers[.referer], let schemeEnd = referer.range(of: "://") else { return nil }
        let rest = referer[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return (referer[..<schemeEnd.upperBound] + authority).lowercased()
    }

    /// `host[:port]` of an origin; the scheme is left out, since a TLS-terminating proxy in front
    /// makes Herald's own page `https://` while Herald itself is asked over plain HTTP.
    static func authority(of origin: String) -> Substring? {
        guard let schemeEnd = origin.range(of: "://") else { return nil }
        return origin[schemeEnd.upperBound...]
    }

    static func hasBody(_ request: Request) -> Bool {
        if let length = request.headers[.contentLength] { return length != "0" }
        return request.headers[.transferEncoding] != nil
    }
}
