import HTTPTypes
import Hummingbird
import Metrics

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

extension HTTPField.Name {
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
}
