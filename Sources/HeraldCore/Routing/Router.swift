/// Maps an MQTT topic to a channel, type and key; the first matching route wins.
public struct TopicRouter: Sendable {
    public struct Match: Sendable, Equatable {
        public var channel: String
        public var type: String
        public var key: String?
        public var kind: RouteConfig.Kind
        /// Set when the key or type takes payload fields, or the route maps fields: then the
        /// events depend on each message's payload (see `MappedRoute`).
        var mapped: MappedRoute?

        public init(channel: String, type: String, key: String?, kind: RouteConfig.Kind) {
            self.channel = channel
            self.type = type
            self.key = key
            self.kind = kind
        }
    }

    struct CompiledRoute: Sendable {
        let config: RouteConfig
        let key: [KeyTemplate.Part]?
        let type: [KeyTemplate.Part]?
        let hasRest: Bool
    }

    let routes: [CompiledRoute]

    public init(_ routes: [RouteConfig]) {
        self.routes = routes.map { route in
            CompiledRoute(config: route,
                          key: route.key.flatMap(KeyTemplate.parts),
                          type: route.type.flatMap { $0.contains("{") ? KeyTemplate.parts($0) : nil },
                          hasRest: route.topic.segments.last == .rest)
        }
    }

    /// The route's channel, type and key for `topic`, or nil when no route takes it.
    public func route(_ topic: String) -> Match? {
        for route in routes {
            var captures: [Substring] = []
            guard route.config.topic.match(topic, captures: &captures) else { continue }
            let keyParts = route.key.map { KeyTemplate.render($0, captures: captures, hasRest: route.hasRest) }
            let typeParts = route.type.map { KeyTemplate.render($0, captures: captures, hasRest: route.hasRest) }
            var key = keyParts.flatMap(KeyTemplate.text)
            if key?.isEmpty == true { key = nil }
            var match = Match(channel: route.config.channel,
                              type: route.config.type ?? Self.defaultType(route.config.kind),
                              key: key,
                              kind: route.config.kind)
            let keyHasFields = keyParts.map { KeyTemplate.text($0) == nil } ?? false
            if keyHasFields || typeParts != nil || route.config.fields != nil {
                match.mapped = MappedRoute(key: keyHasFields ? keyParts : nil, type: typeParts, fields: route.config.fields)
            }
            return match
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
