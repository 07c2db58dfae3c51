/// Maps an MQTT topic to a channel, type and key; the first matching route wins.
public struct TopicRouter: Sendable {
    public struct Match: Sendable, Equatable {
        public var channel: String
        public var type: String
        public var key: String?
        public var kind: RouteConfig.Kind
    }

    struct CompiledRoute: Sendable {
        let config: RouteConfig
        let key: [KeyTemplate.Part]?
        let hasRest: Bool
    }

    let routes: [CompiledRoute]

    public init(_ routes: [RouteConfig]) {
        self.routes = routes.map { route in
            CompiledRoute(config: route,
                          key: route.key.flatMap(KeyTemplate.parts),
                          hasRest: route.topic.segments.last == .rest)
        }
    }

    /// The route's channel, type and key for `topic`, or nil when no route takes it.
    public func route(_ topic: String) -> Match? {
        for route in routes {
            var captures: [Substring] = []
            guard route.config.topic.match(topic, captures: &captures) else { continue }
            var key = route.key.map { KeyTemplate.render($0, captures: captures, hasRest: route.hasRest) }
            if key?.isEmpty == true { key = nil }
            return Match(channel: route.config.channel,
                         type: route.config.type ?? Self.defaultType(route.config.kind),
                         key: key,
                         kind: route.config.kind)
        }
        return nil
    }

    static func defaultType(_ kind: RouteConfig.Kind) -> String {
        switch kind {
        case .event: "message"
        case .job: "progress"
        case .alert: "alert"
        }
    }
}
