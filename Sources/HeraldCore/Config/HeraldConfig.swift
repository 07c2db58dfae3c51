/// Herald's configuration (DESIGN §9). Every field has a default, so no file is needed.
public struct HeraldConfig: Sendable {
    public struct Server: Sendable {
        public var listen = ListenAddress(host: "127.0.0.1", port: 8080)
        /// The dashboard's files (`WebRoot.default` unless configured).
        public var webRoot = WebRoot.default
        public var keepaliveSeconds = 15.0
        public var replay = 100
        public var allowAnonymous = false
        public var maxBodyBytes = 1_048_576
        /// Events a stream may fall behind before it is cut off (it resumes by id).
        public var subscriberQueue = 4_096
        /// The longest an event loop pauses between fan-outs to its live streams, so that what
        /// commits meanwhile goes out in one write per stream; the pause is four times the last
        /// fan-out's length up to this (see `DrainPacer`). 0: every commit at once.
        public var coalesceMilliseconds = 10
        /// SO_SNDBUF of every plain HTTP connection (Linux doubles it): what the kernel holds for
        /// a client that reads slowly. Setting it turns the kernel's autotuning off for them.
        /// nil: autotuning, up to the third value of net.ipv4.tcp_wmem.
        public var sendBufferBytes: Int?
        public var corsOrigins: [String] = []
        /// `?access_token=` for clients that cannot set headers; off by default (URLs end up in logs).
        public var allowQueryToken = false
        /// Open streams, in all and per client; short requests in flight, in all and per client.
        /// Two budgets, so streams can never lock out publishing or health checks. A client is
        /// its address, or the one a trusted proxy names; loopback clients meet only the totals.
        public var maxStreams = 10_000
        public var maxStreamsPerClient = 1_000
        public var maxRequests = 512
        public var maxRequestsPerClient = 64
        /// Peers whose `Forwarded` / `X-Forwarded-For` name the client.
        public var trustedProxies = AddressRange.loopback
        public var sessionHours = 168.0
        /// Largest request head, and how long a client may take to send its first one.
        public var maxHeaderBytes = 16_384
        public var headerTimeoutSeconds = 10.0
        /// How long a request body may take to arrive after its head.
        public var bodyTimeoutSeconds = 30.0
        /// How long a kept-alive connection may wait for its next request.
        public var idleTimeoutSeconds = 60.0
        /// TLS: how long a handshake may take, and how many may be under way at once, in all and
        /// from one address.
        public var handshakeTimeoutSeconds = 10.0
        public var maxHandshakes = 256
        public var maxHandshakesPerClient = 32
        /// How long one write of a stream may wait for a client that does not read before the
        /// stream is cut off (it resumes by id).
        public var stallTimeoutSeconds = 30.0
        public var tlsCertificate: String?
        public var tlsKey: String?
        /// Unmap start-up's code and read-only data once the server has settled (StartUpPages).
        public var releaseStartUpPages = true
        /// This node's name in `$status` and `/readyz`, for telling nodes on one PostgreSQL
        /// database apart; nil: the host name and the listening port.
        public var nodeName: String?
    }

    public struct Store: Sendable {
        public var path = "herald.sqlite"
        public var synchronousFull = false
        public var maxEvents = 1_000_000
        public var maxAgeDays = 30.0
        /// Seconds between retention passes.
        public var retentionInterval = 60.0
        /// Terminal job events and alert events are kept this long, whatever the count limit says.
        public var keepTerminalDays = 7.0
    }

    public struct MQTT: Sendable {
        public var enabled = true
        public var host = "127.0.0.1"
        public var port = 1883
        public var tls = false
        public var caFile: String?
        public var clientID = "herald"
        public var username: String?
        public var passwordFile: String?
        public var qos = 1
        public var keepaliveSeconds = 30
        public var maxPayloadBytes = 262_144
    }

    public var server = Server()
    public var store = Store()
    public var mqtt = MQTT()
    public var routes: [RouteConfig] = RouteConfig.defaults
    public var sources = SourcesConfig()
    public var alertRules: [AlertRule] = []
    public var tokens: [TokenConfig] = []
    /// Where alerts go when they leave the box.
    public var notify: [NotifyTarget] = []

    public init() {}
}

public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `HOST:PORT`, `[v6]:PORT` or `:PORT`.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }

    public var isLoopback: Bool { Self.isLoopback(host: host) }

    /// A name or address that never leaves the machine.
    public static func isLoopback(host: String) -> Bool {
        let host = host.lowercased()
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// One MQTT route: which topics become events on which channel (DESIGN §5).
public struct RouteConfig: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case event, job, alert
    }

    public var topic: Selector
    public var channel: String
    public var type: String?
    public var key: String?
    public var kind: Kind = .event
    /// Seconds of silence after which a key gets a `stale` event.
    public var staleAfter: Double?
    /// Readings or job fields taken from the payload (see `FieldMapping`).
    public var fields: FieldMapping?
    /// Line in the config file, for messages.
    public var line: Int?

    public static let defaults: [RouteConfig] = [
        RouteConfig(topic: try! Selector("sensors/+/+"), channel: "sensors", type: "reading", key: "{1}/{2}"),
        RouteConfig(topic: try! Selector("sensors/#"), channel: "sensors", type: "reading", key: "{#}"),
        RouteConfig(topic: try! Selector("jobs/+/progress"), channel: "jobs", type: "progress", key: "{1}", kind: .job),
        RouteConfig(topic: try! Selector("alerts/#"), channel: "alerts", type: "alert", key: "{#}", kind: .alert),
    ]
}
