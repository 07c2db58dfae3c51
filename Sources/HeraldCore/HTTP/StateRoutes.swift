import Hummingbird

/// Jobs, alerts and the consistent snapshot (DESIGN §6).
struct StateRoutes {
    let runtime: HeraldRuntime

    func register(on router: Router<BasicRequestContext>) {
        router.get("/api/jobs") { _, _ in
            jsonResponse("{\"jobs\":[" + (try runtime.log.jobs()).map(\.json).joined(separator: ",") + "]}")
        }
        router.get("/api/jobs/**") { _, context in
            let key = try context.catchAllSegments().joined(separator: "/")
            guard let job = try runtime.log.jobs(key: key).first else { throw APIError.notFound("no job with key \(String(reflecting: key))") }
            return jsonResponse(job.json)
        }
        router.get("/api/alerts") { request, _ in
            let all = request.queryValue("all") == "1" || request.queryValue("all") == "true"
            return jsonResponse("{\"alerts\":[" + (try runtime.log.alerts(all: all)).map(\.json).joined(separator: ",") + "]}")
        }
        router.post("/api/alerts/**") { _, context in
            var segments = try context.catchAllSegments()
            guard segments.count >= 2, segments.removeLast() == "ack" else {
                throw APIError.notFound("use POST /api/alerts/{id}/ack")
            }
            let id = segments.joined(separator: "/")
            do {
                let event = try await runtime.log.acknowledgeAlert(id)
                return jsonResponse("{\"id\":\(event.id)}")
            } catch let error as AlertNotFound {
                throw APIError.notFound(error.description)
            } catch {
                throw APIError.from(appendError: error)
            }
        }
        router.get("/api/snapshot") { request, _ in
            jsonResponse(try runtime.log.fullSnapshot(matching: try request.eventFilter()).json)
        }
    }
}
