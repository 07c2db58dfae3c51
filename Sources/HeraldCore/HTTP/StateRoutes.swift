import Hummingbird

/// Jobs, alerts and the consistent snapshot (DESIGN §6).
struct StateRoutes {
    let runtime: HeraldRuntime

    func register(on router: Router<HeraldRequestContext>) {
        router.get("/api/jobs") { _, context in
            let jobs = try await runtime.store.jobs(channel: nil, key: nil).filter { context.access.canRead($0.channel) }
            return jsonResponse("{\"jobs\":[" + jobs.map(\.json).joined(separator: ",") + "]}")
        }
        router.get("/api/jobs/**") { _, context in
            let key = try context.catchAllSegments().joined(separator: "/")
            guard let job = try await runtime.store.jobs(channel: nil, key: key).first(where: { context.access.canRead($0.channel) }) else { throw APIError.notFound("no job with key \(String(reflecting: key))") }
            return jsonResponse(job.json)
        }
        router.get("/api/alerts") { request, context in
            let all = request.queryValue("all") == "1" || request.queryValue("all") == "true"
            let alerts = try await runtime.store.alerts(all: all).filter { context.access.canRead($0.channel) }
            return jsonResponse("{\"alerts\":[" + alerts.map(\.json).joined(separator: ",") + "]}")
        }
        router.post("/api/alerts/**") { _, context in
            try context.requireAdmin()
            var segments = try context.catchAllSegments()
            guard segments.count >= 2, segments.removeLast() == "ack" else {
                throw APIError.notFound("use POST /api/alerts/{id}/ack")
            }
            let id = segments.joined(separator: "/")
            do {
                let event = try await runtime.store.acknowledgeAlert(id)
                return jsonResponse("{\"id\":\(event.id)}")
            } catch let error as AlertNotFound {
                throw APIError.notFound(error.description)
            } catch {
                throw APIError.from(appendError: error)
            }
        }
        router.get("/api/devices") { _, context in
            let devices = try await runtime.store.devices().filter { context.access.canRead($0.description.channel) }
            return jsonResponse("{\"devices\":[" + devices.map(\.json).joined(separator: ",") + "]}")
        }
        router.get("/api/devices/**") { _, context in
            // A device id holds `/` (`zigbee2mqtt/living_room/climate`), percent-encoded or not.
            let id = try context.catchAllSegments().joined(separator: "/")
            guard let device = try await runtime.store.device(id: id), context.access.canRead(device.description.channel) else {
                throw APIError.notFound("no device with id \(String(reflecting: id))")
            }
            return jsonResponse(device.json)
        }
        router.get("/api/snapshot") { request, context in
            let filter = context.access.narrow(try request.eventFilter())
            return jsonResponse(try await runtime.store.fullSnapshot(matching: filter).json)
        }
    }
}
