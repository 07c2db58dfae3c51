import Foundation
import Hummingbird

extension Request {
    /// All values of a repeatable query parameter.
    func queryValues(_ name: String) -> [String] {
        uri.queryParameters[values: Substring(name)].map(String.init)
    }

    func queryValue(_ name: String) -> String? {
        uri.queryParameters[Substring(name)].map(String.init)
    }

    func queryInt(_ name: String, in range: ClosedRange<Int>, default value: Int) throws(APIError) -> Int {
        guard let text = queryValue(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw .badRequest("\(name) must be a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    /// `channel=` selectors (default `#`) and `key=`, validated.
    func eventFilter(defaultChannel: String? = nil) throws(APIError) -> EventFilter {
        var texts = queryValues("channel")
        if texts.isEmpty { texts = [defaultChannel ?? "#"] }
        var selectors: [Selector] = []
        for text in texts {
            do { selectors.append(try Selector(text)) } catch { throw .badRequest(error.description) }
        }
        let key = queryValue("key")
        if let key {
            do { try Names.validateKey(key) } catch { throw .badRequest(error.description) }
        }
        return EventFilter(selectors: SelectorSet(selectors), key: key)
    }

    /// The body, up to `limit` bytes (413 past it).
    func bodyBytes(limit: Int) async throws -> [UInt8] {
        var buffer = try await body.collect(upTo: limit)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}

extension RequestContext {
    /// The path after a `**` route, percent-decoded segment by segment, so `%2F` stays inside a
    /// channel name but `%0A` becomes the newline that validation then refuses.
    func catchAllSegments() throws(APIError) -> [String] {
        var segments: [String] = []
        for raw in parameters.getCatchAll() {
            let segment = String(raw)
            // Most segments hold no escape; Foundation's decoding goes through CFString (3 % of a
            // publish's CPU when every segment took it).
            guard segment.containsByte(where: { $0 == UInt8(ascii: "%") }) else {
                segments.append(segment)
                continue
            }
            guard let decoded = segment.removingPercentEncoding else {
                throw .badRequest("malformed percent-encoding in path")
            }
            segments.append(decoded)
        }
        return segments
    }
}

/// `{"a":1}` bodies for answers.
func jsonResponse(_ json: String, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
             body: .init(byteBuffer: ByteBuffer(string: json + "\n")))
}
