import Foundation
import Testing

/// `GET /api/series` over HTTP: what the dashboard's charts read (DESIGN §13).
@Suite struct SeriesAPITests {
    @Test func publishedReadingsComeBackCountedInBucketsAndBadQueriesAreRefused() async throws {
        let dir = try TempDir()
        let herald = try await HeraldInstance(dir: dir)
        let before = Int64(Date().timeIntervalSince1970 * 1000) - 1000
        for value in 1...30 {
            _ = try await herald.publish("sensors", #"{"type":"reading","key":"lab/temp","data":{"value":\#(value),"unit":"°C"}}"#)
        }
        let after = Int64(Date().timeIntervalSince1970 * 1000) + 1000
        let response = try await herald.get("/api/series?channel=sensors&key=lab/temp&from=\(before)&to=\(after)&points=3")
        #expect(response.status == 200, "\(response)")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        let points = try #require(body["points"] as? [[String: Any]])
        #expect(points.compactMap { $0["n"] as? Int }.reduce(0, +) == 30)
        #expect(points.compactMap { $0["min"] as? Double }.min() == 1 && points.compactMap { $0["max"] as? Double }.max() == 30)
        let starts = points.compactMap { $0["t"] as? Int64 }
        #expect(starts == starts.sorted() && starts.allSatisfy { $0 >= before && $0 < after })
        #expect(body["unit"] as? String == "°C" && body["bucketMs"] as? Int64 == (after - before + 2) / 3)

        // ISO 8601 times are taken as well as epoch milliseconds.
        let iso = try await herald.get("/api/series?channel=sensors&key=lab/temp&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00.000Z")
        #expect(iso.status == 200 && iso.body.contains(#""from":1577836800000,"to":1577923200000"#), "\(iso)")
        for bad in ["key=lab/temp", "channel=sensors", "channel=sensors&key=k&points=2001", "channel=sensors&key=k&from=yesterday",
                    "channel=sensors&key=k&from=10&to=5", "channel=sensors&key=k&field=a.b"] {
            let refused = try await herald.get("/api/series?" + bad)
            #expect(refused.status == 400 && refused.body.contains(#""error":"bad request""#), "\(bad): \(refused)")
        }
    }
}
