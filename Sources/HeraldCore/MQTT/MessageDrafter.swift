import Logging
import Metrics

/// What one message becomes (DESIGN §5, §5a): a user route's event, else a built-in source's events
/// and device state, else a dead letter that says why. User routes win over sources.
final class MessageDrafter: Sendable {
    /// The events and device state to store, and the topics a discovery config asks to follow
    /// (or no longer names).
    struct Drafted: Sendable {
        var item: AppendItem
        var subscribe: [String] = []
        var unsubscribe: [String] = []
    }

    /// A description (Zigbee2MQTT's bridge/devices of a large network) is not stored as it came,
    /// so it may be larger than a payload that is.
    static let descriptionLimit = 8 << 20

    private let routes: RouteCache
    let sources: SourceSet
    private let payloadLimit: Int
    private let logger: Logger
    /// Dead letters and source warnings are logged once a minute per topic.
    private let onceAMinute: OncePerMinuteLog

    init(router: TopicRouter, sources: SourceSet, payloadLimit: Int, logger: Logger, onceAMinute: OncePerMinuteLog) {
        self.routes = RouteCache(router: router)
        self.sources = sources
        self.payloadLimit = payloadLimit
        self.logger = logger
        self.onceAMinute = onceAMinute
    }

    func draft(_ message: MQTTMessage) -> Drafted {
        let route = routes.routed(message.topic)
        let source = route.source(qos: message.qos, retain: message.retain)
        if message.payload.count > payloadLimit,
           message.payload.count > Self.descriptionLimit || route.match != nil || !sources.isMetadata(message.topic) {
            return Drafted(item: AppendItem(drafts: [deadLetter(message, reason: "payload of \(message.payload.count) bytes is over the limit of \(payloadLimit)",
                                                                type: "oversize", includePayload: false, source: source)]))
        }
        if route.match == nil, let outcome = sources.interpret(SourceMessage(topic: message.topic, payload: message.payload, retain: message.retain)) {
            return drafted(outcome, message: message, source: source)
        }
        return Drafted(item: AppendItem(drafts: routedDrafts(message, route: route, source: source)))
    }

    private func drafted(_ outcome: SourceOutcome, message: MQTTMessage, source: String) -> Drafted {
        if let problem = outcome.problem {
            return Drafted(item: AppendItem(drafts: [deadLetter(message, reason: problem, type: "undecodable",
                                                                includePayload: message.payload.count <= payloadLimit, source: source)]))
        }
        for warning in outcome.warnings {
            onceAMinute.warn(logger, key: "source: " + message.topic, "source message not kept whole",
                             metadata: ["topic": "\(message.topic)", "source": "\(outcome.source)", "detail": "\(warning)"])
        }
        var drafts = outcome.drafts
        for index in drafts.indices { drafts[index].source = source }
        return Drafted(item: AppendItem(drafts: drafts, effects: outcome.effects),
                       subscribe: outcome.subscribe, unsubscribe: outcome.unsubscribe)
    }

    private func routedDrafts(_ message: MQTTMessage, route: RoutedTopic, source: String) -> [EventDraft] {
        guard let match = route.match else {
            return [deadLetter(message, reason: "no route or source takes the topic", type: "unrouted", includePayload: true, source: source)]
        }
        if let problem = route.keyProblem {
            return [deadLetter(message, reason: "the key taken from the topic is refused: \(problem)", type: "invalid",
                               includePayload: true, source: source)]
        }
        if let mapped = match.mapped {
            switch mapped.drafts(for: match, payload: message.payload, time: Clock.nowMilliseconds()) {
            case .success(var drafts):
                for index in drafts.indices { drafts[index].source = source }
                return drafts
            case .failure(let problem):
                return [deadLetter(message, reason: problem.reason, type: "unmapped", includePayload: true, source: source)]
            }
        }
        return [EventDraft(channel: match.channel, type: match.type, key: match.key,
                           data: PayloadNormalizer.json(for: message.payload), source: source)]
    }

    private func deadLetter(_ message: MQTTMessage, reason: String, type: String, includePayload: Bool, source: String) -> EventDraft {
        Counter(label: "herald_deadletter_total", dimensions: [("reason", type)]).increment()
        onceAMinute.warn(logger, key: message.topic, "mqtt message sent to $deadletter",
                         metadata: ["topic": "\(message.topic)", "reason": "\(reason)", "size": "\(message.payload.count)"])
        var data = "{\"topic\":\(JSONText.quoted(message.topic)),\"size\":\(message.payload.count),\"reason\":\(JSONText.quoted(reason))"
        if includePayload { data += ",\"payload\":" + PayloadNormalizer.json(for: message.payload) }
        data += "}"
        return EventDraft(channel: "$deadletter", type: type, key: nil, data: data, source: source)
    }
}
