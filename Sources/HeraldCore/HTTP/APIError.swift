import Foundation
import HTTPTypes
import Hummingbird
import Metrics
import NIOHTTP1

/// Every error Herald answers with: JSON `{"error", "detail"}` and the right status.
public struct APIError: HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var error: String
    public var detail: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ error: String, detail: String = "") {
        self.status = status
        self.error = error
        self.detail = detail
    }

    public static func badRequest(_ detail: String) -> APIError { APIError(.badRequest, "bad request", detail: detail) }
    public static func notFound(_ detail: String) -> APIError { APIError(.notFound, "not found", detail: detail) }

    public var description: String { "\(status.code) \(error): \(detail)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.xContentTypeOptions] = "nosniff"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: jsonBody)))
    }

    var jsonBody: String {
        "{\"error\":" + JSONText.quoted(error) + ",\"detail\":" + JSONText.quoted(detail) + "}\n"
    }

    /// The connection is closed once this answer is written (`RequestDeadlines`): what follows
    /// on it (an unread body, a stream of malformed bytes) can no longer be told apart.
    func closingConnection() -> APIError {
        var error = self
        error.headers[.connection] = "close"
        return error
    }

    /// A request head that does not parse: 431 when it is too large, 400 otherwise.
    static func forMalformedHead(_ error: HTTPParserError) -> APIError {
        if case .headerOverflow = error {
            Counter(label: "herald_http_refused_total", dimensions: [("reason", "head_too_large")]).increment()
            return APIError(.init(code: 431, reasonPhrase: "Request Header Fields Too Large"), "request head too large",
                            detail: "the request head is larger than the configured limit (server.max_header_bytes)")
        }
        Counter(label: "herald_http_refused_total", dimensions: [("reason", "malformed")]).increment()
        return APIError(.badRequest, "bad request", detail: "malformed HTTP/1.1 request head (\(error))")
    }

    /// A request body that does not parse (a chunk size of `ZZ`, a chunk larger than any integer).
    static func forMalformedBody(_ error: HTTPParserError) -> APIError {
        Counter(label: "herald_http_refused_total", dimensions: [("reason", "malformed")]).increment()
        return APIError(.badRequest, "bad request", detail: "malformed HTTP/1.1 request body (\(error))").closingConnection()
    }

    /// The answer for a failed append: a full queue or disk is the caller's cue to retry later.
    static func from(appendError error: any Error) -> APIError {
        switch error {
        case AppendError.overloaded:
            var answer = APIError(.serviceUnavailable, "overloaded", detail: "\(error)")
            answer.headers[.retryAfter] = "1"
            return answer
        case AppendError.shuttingDown:
            return APIError(.serviceUnavailable, "shutting down", detail: "\(error)")
        default:
            let text = "\(error)"
            if text.contains("SQLITE_FULL") || text.contains("disk is full") {
                return APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), "storage full", detail: "the database disk is full; nothing was stored")
            }
            return APIError(.serviceUnavailable, "store unavailable", detail: text)
        }
    }
}

extension APIError {
    /// What a request that failed with `error` is answered with: Herald's own errors as they
    /// are, Hummingbird's (no route, body too large, ...) in Herald's JSON shape, anything else
    /// a logged 500.
    static func answer(for error: any Error, to request: Request, context: some RequestContext) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as HTTPParserError:
            return forMalformedBody(error)
        case let error as HTTPError:
            let detail = error.body ?? (error.status == .notFound ? "no route for \(request.method) \(request.uri.path)" : "")
            var answer = APIError(error.status, error.status.reasonPhrase.lowercased(), detail: detail)
            answer.headers = error.headers
            return answer
        case let error as any HTTPResponseError:
            if error.status == .contentTooLarge {
                Counter(label: "herald_http_refused_total", dimensions: [("reason", "body_size")]).increment()
            }
            let detail = error.status == .contentTooLarge ? "the request body is larger than the configured limit" : "\(error)"
            return APIError(error.status, error.status.reasonPhrase.lowercased(), detail: detail)
        default:
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return APIError(.internalServerError, "internal error", detail: "\(error)")
        }
    }
}
