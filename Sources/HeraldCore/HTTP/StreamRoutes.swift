import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /sse` and `GET /channels/{name}/sse`.
struct StreamRoutes {
    let runtime: HeraldRuntime

    func register(on router: Router<HeraldRequestContext>) {
        router.get("/sse") { request, context in
            let filter = try request.eventFilter()
            try context.requireSomeReadable(filter.selectors)
            return try await stream(request, context: context, filter: context.access.narrow(filter))
        }
        router.get("/channels/**") { request, context in
            var segments = try context.catchAllSegments()
            guard segments.count >= 2, segments.removeLast() == "sse" else {
                throw APIError.notFound("use /channels/{name}/sse")
            }
            let name = segments.joined(separator: "/")
            do { try Names.validateChannel(name, allowReserved: true) } catch let error as InvalidName { throw APIError.badRequest(error.description) }
            try context.requireRead(name)
            let filter = try request.eventFilter(defaultChannel: name).narrowed(to: name)
            return try await stream(request, context: context, filter: filter)
        }
    }

    /// Builds the response; its body writes the stream. A job's stream reads the job first.
    private func stream(_ request: Request, context: HeraldRequestContext, filter: EventFilter) async throws -> Response {
        let resumeText = request.headers[.lastEventID] ?? request.queryValue("lastEventId")
        let streamRequest = StreamRequest(
            filter: filter,
            resume: StreamRequest.parseResume(resumeText),
            replay: try request.queryInt("replay", in: 0...100_000, default: runtime.config.server.replay),
            snapshot: request.queryValue("snapshot") == "1" || request.queryValue("snapshot") == "true",
            session: context.access.session)
        let runtime = self.runtime
        let stall = TimeAmount.milliseconds(Int64(runtime.config.server.stallTimeoutSeconds * 1000))
        // The direct lane writes next to the socket, so only where no TLS sits in between, and
        // only on a connection Hummingbird keeps open after the request (it half-closes one that
        // asked for `Connection: close` as soon as the handler returns).
        let directLane = runtime.config.server.tlsCertificate == nil && request.headers[.connection] != "close"
            ? context.channel : nil
        let eventStream = try await EventStream(runtime: runtime, request: streamRequest, directLane: directLane)
        // A job's stream that resumes at or past its last event: 204 tells EventSource to stop.
        if case .after(let lastId) = streamRequest.resume, let terminal = eventStream.terminalId, lastId >= terminal {
            return Response(status: .noContent)
        }
        let headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8",
            .cacheControl: "no-cache, no-transform",
            .init("X-Accel-Buffering")!: "no",
        ]
        return Response(status: .ok, headers: headers, body: .init { writer in
            let writer = StreamWriter(writer, channel: context.channel, stall: stall)
            if directLane != nil {
                // No watch on the inbound side: a client leaving fails the history writes, and the
                // live part (handed over) is ended by the connection's loop when the socket closes.
                // Hummingbird's watch would also end the connection's request stream on return.
                guard try await eventStream.write(to: writer) == .handedOver else { return try await writer.finish() }
                context.connectionSlot?.holdUntilClosed(context.channel)
                return
            }
            do {
                // Ends the stream as soon as the client goes away, instead of at the next write.
                _ = try await request.body.consumeWithCancellationOnInboundClose { _ in
                    try await eventStream.write(to: writer)
                }
            } catch let error as EventStream.SlowSubscriber {
                // Throwing out of the body makes Hummingbird close the connection.
                throw error
            } catch {
                return
            }
            try await writer.finish()
        })
    }
}

extension EventFilter {
    /// For `/channels/{name}/sse`: only that channel, whatever else the query says.
    func narrowed(to channel: String) -> EventFilter {
        EventFilter(selectors: SelectorSet([try! Selector(channel)]), key: key)
    }
}

extension HTTPField.Name {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
}
