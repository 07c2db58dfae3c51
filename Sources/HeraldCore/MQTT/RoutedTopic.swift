import Synchronization

/// What the user's routes say about a topic.
struct RoutedTopic: Sendable {
    var match: TopicRouter.Match?
    /// Why the key the route makes of the topic is refused, if it is.
    var keyProblem: String?
    /// The event's `source` for QoS 0, 1 and 2, not retained then retained: the same few strings
    /// for every message on the topic.
    private var sources: [String]

    init(topic: String, match: TopicRouter.Match?, keyProblem: String?) {
        self.match = match
        self.keyProblem = keyProblem
        let quoted = JSONText.quoted(topic)
        sources = (0...2).flatMap { qos in
            [false, true].map { retain in "{\"mqtt\":{\"topic\":\(quoted),\"qos\":\(qos),\"retain\":\(retain)}}" }
        }
    }

    func source(qos: Int, retain: Bool) -> String {
        sources[min(max(qos, 0), 2) * 2 + (retain ? 1 : 0)]
    }
}

/// Devices publish under the same topics again and again, so what routing says is kept, up to
/// `limit` topics, then forgotten all at once.
final class RouteCache: Sendable {
    static let limit = 4_096
    private let router: TopicRouter
    /// By the topic's bytes: two spellings of one text are two topics to MQTT.
    private let known = Mutex<[ByteExactString: RoutedTopic]>([:])

    init(router: TopicRouter) {
        self.router = router
    }

    func routed(_ topic: String) -> RoutedTopic {
        let cacheKey = ByteExactString(topic)
        if let routed = known.withLock({ $0[cacheKey] }) { return routed }
        let match = router.route(topic)
        var keyProblem: String?
        if let key = match?.key {
            do { try Names.validateKey(key) } catch { keyProblem = error.reason }
        }
        let routed = RoutedTopic(topic: topic, match: match, keyProblem: keyProblem)
        known.withLock { cache in
            if cache.count >= Self.limit { cache.removeAll(keepingCapacity: true) }
            cache[cacheKey] = routed
        }
        return routed
    }
}
