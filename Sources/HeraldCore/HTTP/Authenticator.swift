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
            guard let digest = try await log.sessionTokenDigest(idHash: idHash),
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

extension HTTPField.Name {
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
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

/// Cross-site request forgery. A write must come from Herald's own origin (the scheme it is
/// served with and the `Host` it was asked by) or one in `cors_origins`, named by `Origin` or
/// else `Referer`, and a body must be JSON, which a plain HTML form cannot send. For a request
/// signed in by the session cookie the origin is required (SameSite=Strict alone takes two ports
/// of one host for one site); where no credential is asked, a request that names no origin is
/// not a browser's and passes.
struct ForgeryCheck: Sendable {
    /// `server.cors_origins`, the other origins that may write.
    let allowed: CORSAllowList
    /// Herald's own scheme, unless a proxy in front says otherwise (`X-Forwarded-Proto`: a page
    /// on another site cannot make a browser send that header without a preflight it would fail).
    let scheme: String

    static let safeMethods: Set<HTTPRequest.Method> = [.get, .head, .options]

    func check(_ request: Request, requireOrigin: Bool) throws(APIError) {
        guard !Self.safeMethods.contains(request.method) else { return }
        guard let origin = Self.origin(of: request) else {
            if requireOrigin { throw refusal("a write signed in by cookie needs an Origin or Referer header") }
            return
        }
        let scheme = request.headers[.xForwardedProto]?.lowercased() ?? self.scheme
        let own = request.head.authority.map { scheme + "://" + $0.lowercased() }
        guard allowed.contains(origin) || origin == own else {
            throw refusal("origin \(origin) may not write here (allowed: this server's own origin and server.cors_origins)")
        }
        if Self.hasBody(request) {
            let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/json" else {
                throw refusal("a write from a browser must send Content-Type: application/json", status: .unsupportedMediaType)
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

    static func hasBody(_ request: Request) -> Bool {
        if let length = request.headers[.contentLength] { return length != "0" }
        return request.headers[.transferEncoding] != nil
    }
}
