import Yams

/// Walks the YAML tree section by section; each setter records a problem with the node's line
/// rather than throwing, so one run reports every mistake.
struct ConfigReader {
    var problems: [ConfigError.Problem] = []

    mutating func fail(_ node: Node?, _ message: String) {
        problems.append(.init(line: node?.mark?.line, message: message))
    }

    /// The members of a mapping, reporting keys not in `known`.
    mutating func members(_ node: Node, _ section: String, known: Set<String>) -> [(String, Node)] {
        guard let mapping = node.mapping else {
            fail(node, "\(section) must be a mapping")
            return []
        }
        var result: [(String, Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else { fail(keyNode, "keys must be strings"); continue }
            if known.contains(key) {
                result.append((key, value))
            } else {
                fail(keyNode, "unknown key '\(key)' in \(section) (known: \(known.sorted().joined(separator: ", ")))")
            }
        }
        return result
    }

    mutating func string(_ node: Node, _ name: String) -> String? {
        guard case .scalar(let scalar) = node else { fail(node, "\(name) must be a string"); return nil }
        return scalar.string
    }

    mutating func int(_ node: Node, _ name: String, _ range: ClosedRange<Int>) -> Int? {
        guard let value = node.int, range.contains(value) else {
            fail(node, "\(name) must be a whole number in \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func number(_ node: Node, _ name: String, min: Double, max: Double = 1e9) -> Double? {
        guard let value = node.float ?? node.int.map(Double.init), value >= min, value <= max else {
            fail(node, "\(name) must be a number from \(min) to \(max)")
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node, _ name: String) -> Bool? {
        guard let value = node.bool else { fail(node, "\(name) must be true or false"); return nil }
        return value
    }

    mutating func read(_ root: Node, into config: inout HeraldConfig) {
        let sections: Set = ["server", "store", "mqtt", "routes", "sources", "alert_rules", "tokens", "notify"]
        for (key, node) in members(root, "the top level", known: sections) {
            switch key {
            case "server": readServer(node, into: &config.server)
            case "store": readStore(node, into: &config.store)
            case "mqtt": readMQTT(node, into: &config.mqtt)
            case "routes": config.routes = readRoutes(node)
            case "sources": readSources(node, into: &config.sources)
            case "alert_rules": config.alertRules = readAlertRules(node)
            case "notify": config.notify = readNotify(node)
            default: config.tokens = readTokens(node)
            }
        }
        for target in config.notify {
            if case .mqtt = target.kind, !config.mqtt.enabled {
                problems.append(.init(line: target.line, message: "notify target '\(target.name)' publishes over MQTT, but mqtt.enabled is false"))
            }
        }
        for index in config.alertRules.indices where config.alertRules[index].channel == Self.sourcesChannel {
            config.alertRules[index].channel = config.sources.channel
        }
    }

    /// Stands for `sources.channel` until the whole file is read.
    static let sourcesChannel = "$sources"


    mutating func readServer(_ node: Node, into server: inout HeraldConfig.Server) {
        let known: Set = ["listen", "web_root", "keepalive_seconds", "replay", "allow_anonymous",
                          "max_body_bytes", "subscriber_queue", "cors_origins", "allow_query_token", "max_streams",
                          "max_streams_per_client", "max_requests", "max_requests_per_client", "trusted_proxies",
                          "max_connections", "max_connections_per_client",  // the names of max_streams* before 0.x
                          "body_timeout_seconds", "idle_timeout_seconds", "handshake_timeout_seconds", "max_handshakes", "max_handshakes_per_client",
                          "stall_timeout_seconds",
                          "session_hours", "tls", "max_header_bytes", "header_timeout_seconds",
                          "release_start_up_pages", "coalesce_ms",
                          "send_buffer_bytes", "node_name"]
        for (key, value) in members(node, "server", known: known) {
            switch key {
            case "cors_origins": server.corsOrigins = strings(value, key)
            case "allow_query_token": server.allowQueryToken = bool(value, key) ?? server.allowQueryToken
            case "release_start_up_pages": server.releaseStartUpPages = bool(value, key) ?? server.releaseStartUpPages
            case "node_name":
                if let name = string(value, key) {
                    if name.isEmpty || name.count > 100 { fail(value, "node_name must be 1 to 100 characters") } else { server.nodeName = name }
                }
            case "max_streams", "max_connections": server.maxStreams = int(value, key, 1...1_000_000) ?? server.maxStreams
            case "max_streams_per_client", "max_connections_per_client":
                server.maxStreamsPerClient = int(value, key, 1...1_000_000) ?? server.maxStreamsPerClient
            case "max_requests": server.maxRequests = int(value, key, 1...1_000_000) ?? server.maxRequests
            case "max_requests_per_client":
                server.maxRequestsPerClient = int(value, key, 1...1_000_000) ?? server.maxRequestsPerClient
            case "trusted_proxies":
                server.trustedProxies = strings(value, key).compactMap { text in
                    do throws(InvalidAddressRange) { return try AddressRange(text) } catch { fail(value, error.description); return nil }
                }
            case "body_timeout_seconds": server.bodyTimeoutSeconds = number(value, key, min: 0.1) ?? server.bodyTimeoutSeconds
            case "idle_timeout_seconds": server.idleTimeoutSeconds = number(value, key, min: 0.1) ?? server.idleTimeoutSeconds
            case "handshake_timeout_seconds":
                server.handshakeTimeoutSeconds = number(value, key, min: 0.1) ?? server.handshakeTimeoutSeconds
            case "max_handshakes": server.maxHandshakes = int(value, key, 1...1_000_000) ?? server.maxHandshakes
            case "max_handshakes_per_client":
                server.maxHandshakesPerClient = int(value, key, 1...1_000_000) ?? server.maxHandshakesPerClient
            case "stall_timeout_seconds": server.stallTimeoutSeconds = number(value, key, min: 0.1) ?? server.stallTimeoutSeconds
            case "session_hours": server.sessionHours = number(value, key, min: 0.01) ?? server.sessionHours
            case "max_header_bytes": server.maxHeaderBytes = int(value, key, 1024...1_048_576) ?? server.maxHeaderBytes
            case "header_timeout_seconds":
                server.headerTimeoutSeconds = number(value, key, min: 0.1) ?? server.headerTimeoutSeconds
            case "tls":
                for (name, setting) in members(value, "server.tls", known: ["cert", "key"]) {
                    if name == "cert" { server.tlsCertificate = string(setting, name) } else { server.tlsKey = string(setting, name) }
                }
                if (server.tlsCertificate == nil) != (server.tlsKey == nil) { fail(value, "server.tls needs both cert and key") }
            case "listen":
                if let text = string(value, key) {
                    if let address = ListenAddress(parsing: text) { server.listen = address }
                    else { fail(value, "listen must be HOST:PORT, e.g. 127.0.0.1:8080") }
                }
            case "web_root": server.webRoot = string(value, key) ?? server.webRoot
            case "keepalive_seconds": server.keepaliveSeconds = number(value, key, min: 0.01) ?? server.keepaliveSeconds
            case "replay": server.replay = int(value, key, 0...100_000) ?? server.replay
            case "allow_anonymous": server.allowAnonymous = bool(value, key) ?? server.allowAnonymous
            case "send_buffer_bytes": server.sendBufferBytes = int(value, key, 4_096...(64 << 20)) ?? server.sendBufferBytes
            case "coalesce_ms": server.coalesceMilliseconds = int(value, key, 0...1_000) ?? server.coalesceMilliseconds
            case "max_body_bytes": server.maxBodyBytes = int(value, key, 1...1 << 30) ?? server.maxBodyBytes
            default: server.subscriberQueue = int(value, key, 16...1_000_000) ?? server.subscriberQueue
            }
        }
    }

    mutating func readStore(_ node: Node, into store: inout HeraldConfig.Store) {
        for (key, value) in members(node, "store", known: ["path", "synchronous", "retention"]) {
            switch key {
            case "path": store.path = string(value, key) ?? store.path
            case "synchronous":
                switch string(value, key) {
                case "normal": store.synchronousFull = false
                case "full": store.synchronousFull = true
                default: fail(value, "synchronous must be normal or full")
                }
            default:
                let known: Set = ["max_events", "max_age_days", "interval_seconds", "keep_terminal_days"]
                for (name, setting) in members(value, "store.retention", known: known) {
                    switch name {
                    case "max_events": store.maxEvents = int(setting, name, 1...Int.max) ?? store.maxEvents
                    case "max_age_days": store.maxAgeDays = number(setting, name, min: 0) ?? store.maxAgeDays
                    case "keep_terminal_days": store.keepTerminalDays = number(setting, name, min: 0) ?? store.keepTerminalDays
                    default: store.retentionInterval = number(setting, name, min: 0.01) ?? store.retentionInterval
                    }
                }
            }
        }
    }

    mutating func readMQTT(_ node: Node, into mqtt: inout HeraldConfig.MQTT) {
        let known: Set = ["enabled", "url", "client_id", "username", "password_file", "ca_file", "qos",
                          "keepalive_seconds", "max_payload_bytes"]
        for (key, value) in members(node, "mqtt", known: known) {
            switch key {
            case "enabled": mqtt.enabled = bool(value, key) ?? mqtt.enabled
            case "url":
                if let text = string(value, key) {
                    if let url = BrokerURL(text) { url.apply(to: &mqtt) }
                    else { fail(value, "url must look like mqtt://HOST:PORT or mqtts://HOST:PORT") }
                }
            case "client_id": mqtt.clientID = string(value, key) ?? mqtt.clientID
            case "username": mqtt.username = string(value, key).flatMap { $0.isEmpty ? nil : $0 }
            case "password_file": mqtt.passwordFile = string(value, key).flatMap { $0.isEmpty ? nil : $0 }
            case "ca_file": mqtt.caFile = string(value, key).flatMap { $0.isEmpty ? nil : $0 }
            case "qos":
                mqtt.qos = int(value, key, 0...2) ?? mqtt.qos
            case "keepalive_seconds": mqtt.keepaliveSeconds = int(value, key, 5...3600) ?? mqtt.keepaliveSeconds
            default: mqtt.maxPayloadBytes = int(value, key, 1...268_435_455) ?? mqtt.maxPayloadBytes
            }
        }
    }

    mutating func readRoutes(_ node: Node) -> [RouteConfig] {
        guard let sequence = node.sequence else { fail(node, "routes must be a list"); return [] }
        var routes: [RouteConfig] = []
        for item in sequence {
            let line = item.mark?.line
            let problemsBefore = problems.count
            var topic: Selector?, channel: String?, type: String?, key: String?, kind = RouteConfig.Kind.event
            var staleAfter: Double?
            var fields: FieldMapping?
            var mappingNode: Node?
            let known: Set = ["topic", "channel", "type", "key", "kind", "stale_after", "readings", "job"]
            for (name, value) in members(item, "a route", known: known) {
                if name == "readings" || name == "job" {
                    var mapping = fields ?? FieldMapping()
                    if name == "readings" { mapping.readings = readReadings(value) }
                    else if let job = readJobFields(value) { mapping.job = job } else { continue }
                    fields = mapping
                    mappingNode = value
                    continue
                }
                guard let text = string(value, name) else { continue }
                switch name {
                case "stale_after":
                    if let seconds = Self.duration(text), seconds > 0 { staleAfter = seconds }
                    else { fail(value, "stale_after must be a duration like 90s, 2m or 1h") }
                case "topic":
                    do { topic = try Selector(text) } catch { fail(value, "bad topic filter: \(error.reason)") }
                case "channel":
                    do { try Names.validateChannel(text); channel = text } catch { fail(value, error.description) }
                case "type" where text.contains("{"):
                    // A type from the payload: `{$event}`; checked per message.
                    if let parts = KeyTemplate.parts(text), !parts.contains(where: { if case .field = $0 { false } else { $0 != .literal("") && !Self.isLiteral($0) } }) {
                        type = text
                    } else {
                        fail(value, "type '\(text)' may only hold text and {$field.path} placeholders")
                    }
                case "type":
                    do { try Names.validateType(text); type = text } catch { fail(value, error.description) }
                case "key":
                    key = text
                default:
                    if let parsed = RouteConfig.Kind(rawValue: text) { kind = parsed }
                    else { fail(value, "kind must be one of \(RouteConfig.Kind.allCases.map(\.rawValue).joined(separator: ", "))") }
                }
            }
            guard let topic, let channel else {
                if problems.count == problemsBefore { fail(item, "a route needs at least topic and channel") }
                continue
            }
            var route = RouteConfig(topic: topic, channel: channel, type: type, key: key, kind: kind, line: line)
            route.staleAfter = staleAfter
            if let fields {
                if fields.job != nil && kind != .job { fail(mappingNode, "job: goes with kind: job"); continue }
                if !fields.readings.isEmpty && kind != .event { fail(mappingNode, "readings: go with routes of kind event"); continue }
                if fields.job != nil && !fields.readings.isEmpty { fail(mappingNode, "a route takes readings or a job, not both"); continue }
                route.fields = fields
            }
            if let problem = KeyTemplate.problem(in: key ?? "", for: topic) {
                fail(item, problem)
                continue
            }
            routes.append(route)
        }
        return routes
    }
}

extension ConfigReader {
    /// `90s`, `2m`, `1h`, `1d` or plain seconds.
    static func duration(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let unit = text.last, let factor = units[unit], let value = Double(text.dropLast()) { return value * factor }
        return Double(text)
    }

    mutating func strings(_ node: Node, _ name: String) -> [String] {
        guard let sequence = node.sequence else { fail(node, "\(name) must be a list"); return [] }
        return sequence.compactMap { string($0, name) }
    }

    mutating func readTokens(_ node: Node) -> [TokenConfig] {
        guard let sequence = node.sequence else { fail(node, "tokens must be a list"); return [] }
        var tokens: [TokenConfig] = []
        // A session is bound to its token's digest, and logs and the page name tokens: a name or a
        // digest given twice would let one token stand for another.
        var lineOfName: [String: Int] = [:], lineOfDigest: [String: Int] = [:]
        for item in sequence {
            var token = TokenConfig(name: "", sha256: "")
            let problemsBefore = problems.count
            for (name, value) in members(item, "a token", known: ["name", "sha256", "subscribe", "publish", "admin"]) {
                switch name {
                case "name": token.name = string(value, name) ?? ""
                case "sha256":
                    let hex = (string(value, name) ?? "").lowercased()
                    if TokenConfig.digestBytes(hex) == nil {
                        fail(value, "sha256 must be 64 hex digits (herald token new NAME prints one)")
                    }
                    token.sha256 = hex
                case "admin": token.admin = bool(value, name) ?? false
                default:
                    let selectors = strings(value, name)
                    for text in selectors {
                        do { _ = try Selector(text) } catch { fail(value, error.description) }
                    }
                    if name == "subscribe" { token.subscribe = selectors } else { token.publish = selectors }
                }
            }
            guard problems.count == problemsBefore else { continue }
            let line = item.mark?.line ?? 0
            if token.name.isEmpty || token.sha256.isEmpty {
                fail(item, "a token needs name and sha256")
            } else if let first = lineOfName[token.name] {
                fail(item, "token name \(JSONText.quoted(token.name)) is also used on line \(first): names must be unique")
            } else if let first = lineOfDigest[token.sha256] {
                fail(item, "this token's sha256 is also used on line \(first): each token needs its own")
            } else {
                lineOfName[token.name] = line
                lineOfDigest[token.sha256] = line
                tokens.append(token)
            }
        }
        return tokens
    }

    mutating func readAlertRules(_ node: Node) -> [AlertRule] {
        guard let sequence = node.sequence else { fail(node, "alert_rules must be a list"); return [] }
        var rules: [AlertRule] = []
        let known: Set = ["name", "channel", "key", "device", "field", "above", "clear_below", "below", "clear_above", "severity",
                          "message", "offline_for"]
        for item in sequence {
            var rule = AlertRule(name: "", channel: "")
            let problemsBefore = problems.count
            for (name, value) in members(item, "an alert rule", known: known) {
                switch name {
                case "above": rule.above = number(value, name, min: -.greatestFiniteMagnitude)
                case "clear_below": rule.clearBelow = number(value, name, min: -.greatestFiniteMagnitude)
                case "below": rule.below = number(value, name, min: -.greatestFiniteMagnitude)
                case "clear_above": rule.clearAbove = number(value, name, min: -.greatestFiniteMagnitude)
                default:
                    guard let text = string(value, name) else { continue }
                    switch name {
                    case "name": rule.name = text
                    case "channel":
                        do { try Names.validateChannel(text); rule.channel = text } catch { fail(value, error.description) }
                    case "key", "device": rule.key = text
                    case "offline_for":
                        if let seconds = Self.duration(text), seconds > 0 { rule.offlineFor = seconds }
                        else { fail(value, "offline_for must be a duration like 90s, 10m or 1h") }
                    case "field": rule.field = text
                    case "message": rule.message = text
                    default:
                        if let severity = AlertRule.Severity(rawValue: text) { rule.severity = severity }
                        else { fail(value, "severity must be one of info, warning, critical") }
                    }
                }
            }
            guard problems.count == problemsBefore else { continue }
            // A device rule watches the sources' channel unless it names one (see `read`).
            if rule.offlineFor != nil && rule.channel.isEmpty { rule.channel = Self.sourcesChannel }
            if rule.name.isEmpty || rule.channel.isEmpty {
                fail(item, "an alert rule needs at least name, channel and a threshold")
            } else if rules.contains(where: { $0.name == rule.name }) {
                fail(item, "alert rule names must be unique ('\(rule.name)' appears twice)")
            } else if let problem = rule.problem {
                fail(item, problem)
            } else {
                rules.append(rule)
            }
        }
        return rules
    }
}

/// `mqtt://host:port` or `mqtts://host:port`.
struct BrokerURL {
    var host: String
    var port: Int
    var tls: Bool

    init?(_ text: String) {
        let scheme: Substring
        guard let range = text.range(of: "://") else { return nil }
        scheme = text[..<range.lowerBound]
        guard scheme == "mqtt" || scheme == "mqtts" else { return nil }
        tls = scheme == "mqtts"
        let rest = text[range.upperBound...].split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        if let address = ListenAddress(parsing: rest) {
            host = address.host
            port = address.port
        } else if !rest.isEmpty, !rest.contains(":") {
            host = rest
            port = tls ? 8883 : 1883
        } else {
            return nil
        }
    }

    func apply(to mqtt: inout HeraldConfig.MQTT) {
        mqtt.host = host
        mqtt.port = port
        mqtt.tls = tls
    }
}

extension HeraldConfig.MQTT {
    /// The broker an `mqtt://HOST:PORT` or `mqtts://HOST:PORT` URL names, for the command line's `--mqtt`.
    public init?(brokerURL text: String) {
        guard let url = BrokerURL(text) else { return nil }
        self.init()
        url.apply(to: &self)
    }
}
