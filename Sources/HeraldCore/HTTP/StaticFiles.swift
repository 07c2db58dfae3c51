import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The dashboard's files from the web root, and nothing outside it: `..` in any spelling
/// (`%2e%2e`, `%252e` decoded twice), NUL, backslashes, and symlinks that lead out of the root
/// all answer 404, the same as a file that is not there. Paths under a route's first segment
/// (`/api/…`, `/sse`, …) belong to the routes and are never looked up on disk: a stream or API
/// request costs no file-system calls here.
struct StaticFiles: Sendable {
    typealias Context = HeraldRequestContext
    let files: FileMiddleware<HeraldRequestContext, LocalFileSystem>
    let root: String
    let realRoot: String
    let routed: Set<Substring>

    /// `routes`: the router's paths; their literal first segments are taken (not `/`, `*`, `:id`).
    init(root: String, routes: [String] = [], logger: Logger) {
        self.root = root
        self.routed = Set(routes.map(Self.firstSegment).filter { segment in
            !segment.isEmpty && !segment.hasPrefix("*") && !segment.hasPrefix(":") && !segment.hasPrefix("{")
        })
        self.realRoot = URL(fileURLWithPath: root).resolvingSymlinksInPath().standardizedFileURL.path
        self.files = FileMiddleware(root, cacheControl: .init([(MediaType(type: .any), [.noCache])]),
                                    searchForIndexHtml: true, logger: logger)
    }

    /// Whether the request is for a file here: GET or HEAD of a path under the root that exists.
    /// Every `..` trick is `.outside` (404); a path that is not a file is `.absent` (the routes').
    func lookup(_ request: Request) -> Lookup {
        lookup(method: request.method, path: request.uri.path)
    }

    func lookup(method: HTTPRequest.Method, path: String) -> Lookup {
        guard method == .get || method == .head, !routed.contains(Self.firstSegment(of: path)) else { return .absent }
        return onDisk(path)
    }

    /// The file `lookup` found. Served before authentication: the page must load to show its sign-in.
    /// The page may only load from and talk to its own origin, and never be framed (clickjacking).
    func serve(_ request: Request, context: Context) async throws -> Response {
        var response = try await files.handle(request, context: context) { _, _ in throw APIError.notFound("no such file") }
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.referrerPolicy] = "same-origin"
        return response
    }

    static let contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        + "form-action 'self'; frame-ancestors 'none'"

    enum Lookup { case file, absent, outside }

    /// `api` for `/api/channels/x`: what a route path and a request path are matched on here.
    static func firstSegment(of path: some StringProtocol) -> Substring {
        Substring(path.drop { $0 == "/" }.prefix { $0 != "/" })
    }

    /// The file-system side of `lookup`.
    private func onDisk(_ rawPath: String) -> Lookup {
        guard isInsideRoot(rawPath) else { return .outside }
        var isDirectory: ObjCBool = false
        let path = root + "/" + (rawPath.removingPercentEncoding ?? rawPath)
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return .absent }
        if isDirectory.boolValue, !FileManager.default.fileExists(atPath: path + "/index.html") { return .absent }
        return .file
    }

    func isInsideRoot(_ rawPath: String) -> Bool {
        // Decoding until nothing changes catches double encoding.
        var path = rawPath
        for _ in 0..<3 {
            guard let decoded = path.removingPercentEncoding else { return false }
            if decoded == path { break }
            path = decoded
        }
        if path.contains("..") || path.contains("\0") || path.contains("\\") { return false }
        let candidate = URL(fileURLWithPath: root + "/" + path)
        guard FileManager.default.fileExists(atPath: candidate.path) else { return true }  // not a file: the routes decide
        let real = candidate.resolvingSymlinksInPath().standardizedFileURL.path
        return real == realRoot || real.hasPrefix(realRoot + "/")
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = HTTPField.Name("Content-Security-Policy")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
