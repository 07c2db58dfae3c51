import Hummingbird

/// `POST /api/channels/{name}/events` and `POST /api/events` (a batch, all or nothing).
/// Both answer only after the commit, with the ids SQLite assigned.
struct PublishRoutes {
    let runtime: HeraldRuntime
    static let maxBatch = 10_000

    func register(on router: Router<HeraldRequestContext>) {
        router.post("/api/channels/**") { request, context in
            var segments = try context.catchAllSegments()
            guard segments.count >= 2, segments.removeLast() == "events" else {
                throw APIError.notFound("use POST /api/channels/{name}/events")
            }
            let body = try await bodyJSON(request)
            let draft = try PublishBody.draft(channel: segments.joined(separator: "/"), from: body, channelInBody: false)
            try context.requirePublish(draft.channel)
            let stored = try await append([draft])
            return jsonResponse("{\"id\":\(stored[0].id)}")
        }
        router.post("/api/events") { request, context in
            let body = try await bodyJSON(request)
            let items: [JSONText]
            do { items = try body.arrayElements() } catch { throw APIError.badRequest("the body must be a JSON array of events: \(error)") }
            guard !items.isEmpty else { throw APIError.badRequest("the batch is empty") }
            guard items.count <= Self.maxBatch else {
                throw APIError(.contentTooLarge, "batch too large", detail: "at most \(Self.maxBatch) events per batch")
            }
            var drafts: [EventDraft] = []
            for (index, item) in items.enumerated() {
                do {
                    drafts.append(try PublishBody.draft(channel: nil, from: item, channelInBody: true))
                } catch let error as APIError {
                    throw APIError.badRequest("event \(index): \(error.detail)")
                }
            }
            for draft in drafts { try context.requirePublish(draft.channel) }
            let stored = try await append(drafts)
            return jsonResponse("{\"ids\":[" + stored.map { String($0.id) }.joined(separator: ",") + "]}")
        }
    }

    private func bodyJSON(_ request: Request) async throws -> JSONText {
        let bytes = try await request.bodyBytes(limit: runtime.config.server.maxBodyBytes)
        do {
            return try JSONText(validating: bytes)
        } catch {
            throw APIError.badRequest("invalid JSON: \(error)")
        }
    }

    private func append(_ drafts: [EventDraft]) async throws -> [StoredEvent] {
        do {
            return try await runtime.store.append(drafts)
        } catch {
            runtime.logger.warning("publish not stored", metadata: ["error": "\(error)"])
            throw APIError.from(appendError: error)
        }
    }
}

/// The publish body: `{"type"?, "key"?, "data"}`, plus `"channel"` inside a batch.
enum PublishBody {
    static func draft(channel pathChannel: String?, from body: JSONText, channelInBody: Bool) throws(APIError) -> EventDraft {
        let members: [(key: String, value: JSONText)]
        do { members = try body.objectMembers() } catch { throw .badRequest("the body must be a JSON object: \(error)") }
        var channel = pathChannel, type = "message", key: String?, data: JSONText?
        for (name, value) in members {
            switch name {
            case "channel" where channelInBody:
                guard let text = value.stringValue else { throw .badRequest("\"channel\" must be a string") }
                channel = text
            case "type":
                guard let text = value.stringValue else { throw .badRequest("\"type\" must be a string") }
                type = text
            case "key":
                if value.isNull { continue }
                guard let text = value.stringValue else { throw .badRequest("\"key\" must be a string") }
                key = text
            case "data":
                data = value
            default:
                throw .badRequest("unknown member \"\(name)\" (allowed: \(channelInBody ? "channel, " : "")type, key, data)")
            }
        }
        guard let channel else { throw .badRequest("\"channel\" is required") }
        guard let data else { throw .badRequest("\"data\" is required") }
        do {
            try Names.validateChannel(channel)
            try Names.validateType(type)
            if let key { try Names.validateKey(key) }
        } catch {
            throw .badRequest(error.description)
        }
        return EventDraft(channel: channel, type: type, key: key, data: data.singleLine,
                          source: "{\"http\":{\"method\":\"POST\"}}")
    }
}
