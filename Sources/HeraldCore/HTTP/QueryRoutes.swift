import Hummingbird

/// Read-only JSON: channels and history.
struct QueryRoutes {
    let runtime: HeraldRuntime

    func register(on router: Router<HeraldRequestContext>) {
        router.get("/api/channels") { _, context in
            let stats = try await runtime.store.channelStats().filter { context.access.canRead($0.name) }
            let items = stats.map { stat in
                "{\"name\":\(JSONText.quoted(stat.name)),\"count\":\(stat.count),\"firstId\":\(stat.firstId)"
                    + ",\"lastId\":\(stat.lastId),\"lastTime\":\"\(Clock.iso8601(milliseconds: stat.lastTime))\""
                    + ",\"subscribers\":\(runtime.hub.subscriberCount(channel: stat.name))}"
            }
            return jsonResponse("{\"channels\":[" + items.joined(separator: ",") + "]}")
        }
        router.get("/api/events") { request, context in
            let filter = context.access.narrow(try request.eventFilter())
            let limit = try request.queryInt("limit", in: 1...10_000, default: 100)
            let events: [StoredEvent]
            if let afterText = request.queryValue("after") {
                guard let after = Int64(afterText), after >= 0 else { throw APIError.badRequest("after must be an event id ≥ 0") }
                events = try await runtime.store.events(after: after, matching: filter, limit: limit).events
            } else {
                // Without a cursor, the newest `limit` events: what a plot or `herald tail` shows first.
                events = try await runtime.store.recentEvents(matching: filter, count: limit).events
            }
            return jsonResponse("{\"events\":[" + events.map(\.envelope).joined(separator: ",") + "]}")
        }
    }
}

/// Liveness, readiness and metrics.
struct HealthRoutes {
    let runtime: HeraldRuntime

    func register(on router: Router<HeraldRequestContext>) {
        router.get("/healthz") { _, _ in jsonResponse("{\"status\":\"ok\"}") }
        router.get("/readyz") { _, _ in
            let storeOK = await runtime.store.isWritable()
            let mqtt = runtime.mqttLink.withLock { $0 }
            // A standby serves streams and publishes; only a holder without its broker is not ready.
            let ready = storeOK && mqtt != .disconnected
            let duties = runtime.dutiesState.withLock { $0 }
            return jsonResponse("{\"ready\":\(ready),\"store\":\(storeOK ? "\"writable\"" : "\"unavailable\""),\"mqtt\":\"\(mqtt.rawValue)\""
                                + ",\"duties\":\"\(duties.rawValue)\",\"node\":\(JSONText.quoted(runtime.nodeName))}",
                                status: ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, context in
            try context.requireAdmin()
            var bytes: [UInt8] = []
            runtime.metrics.emit(into: &bytes)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
