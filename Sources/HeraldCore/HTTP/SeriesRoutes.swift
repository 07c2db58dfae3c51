import Foundation
import Hummingbird

/// `GET /api/series`: a reading downsampled on the server (DESIGN §13), so a chart of a week
/// costs the page 500 points, not 60,000 events.
struct SeriesRoutes {
    let runtime: HeraldRuntime
    static let maxPoints = 2000

    func register(on router: Router<HeraldRequestContext>) {
        router.get("/api/series") { request, context in
            let query = try Self.query(from: request, now: Clock.nowMilliseconds())
            try context.requireRead(query.channel)
            return jsonResponse(Self.json(of: try await runtime.store.series(query), for: query))
        }
    }

    static func query(from request: Request, now: Int64) throws -> SeriesQuery {
        guard let channel = request.queryValue("channel"), !channel.isEmpty else { throw APIError.badRequest("channel is required") }
        guard let key = request.queryValue("key"), !key.isEmpty else { throw APIError.badRequest("key is required") }
        let field = request.queryValue("field") ?? "value"
        guard !field.isEmpty, field.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || $0.isASCIIAlphanumeric }) else {
            throw APIError.badRequest("field must be a top-level name of letters, digits and _")
        }
        let to = try time(request.queryValue("to"), name: "to") ?? now
        let from = try time(request.queryValue("from"), name: "from") ?? to - 24 * 3_600_000
        guard from < to else { throw APIError.badRequest("from must be before to") }
        let points = try request.queryInt("points", in: 1...maxPoints, default: 500)
        return SeriesQuery(channel: channel, key: key, field: field, from: from, to: to, points: points)
    }

    /// Epoch milliseconds or ISO 8601 (`2026-12-01T10:00:00Z`, fractions and offsets allowed).
    static func time(_ text: String?, name: String) throws -> Int64? {
        guard let text else { return nil }
        if let milliseconds = Int64(text) { return milliseconds }
        guard let milliseconds = Clock.milliseconds(iso8601: text) else {
            throw APIError.badRequest("\(name) must be epoch milliseconds or ISO 8601, like 2026-12-01T10:00:00Z")
        }
        return milliseconds
    }

    static func json(of series: Series, for query: SeriesQuery) -> String {
        let points = series.buckets.map { bucket in
            "{\"t\":\(bucket.start),\"min\":\(jsonNumber(bucket.min)),\"max\":\(jsonNumber(bucket.max))"
                + ",\"avg\":\(jsonNumber(bucket.average)),\"n\":\(bucket.count)}"
        }
        let gaps = series.gaps.map { "{\"from\":\($0.from),\"to\":\($0.to),\"reason\":\"\($0.reason.rawValue)\"}" }
        return "{\"channel\":\(JSONText.quoted(query.channel)),\"key\":\(JSONText.quoted(query.key))"
            + ",\"field\":\(JSONText.quoted(query.field)),\"from\":\(query.from),\"to\":\(query.to)"
            + ",\"bucketMs\":\(query.bucketWidth),\"unit\":\(series.unit.map(JSONText.quoted) ?? "null")"
            + ",\"points\":[" + points.joined(separator: ",") + "],\"gaps\":[" + gaps.joined(separator: ",") + "]}"
    }
}
