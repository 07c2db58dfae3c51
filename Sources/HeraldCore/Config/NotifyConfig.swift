/// One `notify:` target: where alerts go when they leave the box, which of them, and how often.
public struct NotifyTarget: Sendable {
    public enum Kind: Sendable {
        /// A POST of the alert event's envelope, signed with HMAC-SHA256 of `secret`.
        case webhook(url: String, secret: [UInt8])
        /// A POST to an ntfy topic URL, with ntfy's headers.
        case ntfy(url: String, token: String?)
        /// Web Push (RFC 8030/8291/8292) to every browser that subscribed through the dashboard.
        case webpush(subject: String)
        /// The alert's state, retained, at `<topic>/<rule>/<key>`.
        case mqtt(MQTTTarget)
        case email(EmailTarget)

        /// Web Push owes one delivery per browser subscription, each in a lane of its own.
        public var isWebPush: Bool {
            if case .webpush = self { true } else { false }
        }

        public var name: String {
            switch self {
            case .webhook: "webhook"
            case .ntfy: "ntfy"
            case .webpush: "webpush"
            case .mqtt: "mqtt"
            case .email: "smtp"
            }
        }
    }

    public struct MQTTTarget: Sendable {
        public var topic: String
        /// Announce each alert rule as a Home Assistant `binary_sensor` (device class `problem`).
        public var homeAssistantDiscovery = false
        public var discoveryPrefix = "homeassistant"
    }

    public struct EmailTarget: Sendable {
        public var host = ""
        public var port = 587
        /// `starttls` (the default), `tls` (implicit, port 465) or `none` (loopback only).
        public var security = "starttls"
        public var caFile: String?
        public var username: String?
        public var password: String?
        public var from = ""
        public var to: [String] = []

        /// The client's view of it; throws what is wrong in words (`SMTPServer.init`).
        func server(timeout: Duration) throws(SMTPError) -> SMTPServer {
            let security: SMTPServer.Security = switch self.security {
            case "tls": .tls
            case "none": SMTPServer.Security.none
            default: .startTLS
            }
            return try SMTPServer(host: host, port: port, security: security, caFile: caFile, username: username,
                                  password: password, timeout: timeout)
        }
    }

    public var name: String
    public var kind: Kind
    public var filter = NotifyFilter()
    /// At most one notification per alert per this many seconds; changes in between are folded
    /// into the next one. nil: every change goes out.
    public var rateLimitSeconds: Double?
    /// How long a delivery is retried before it is given up to `$deadletter`.
    public var maxAgeSeconds = 86_400.0
    /// One attempt's bound (30 s for email, 10 s for the others, unless configured).
    public var timeoutSeconds = 10.0
    /// The config file's line, for messages.
    public var line: Int?

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }
}

/// Which events a target takes: the transitions, rule and key selectors, a minimum severity.
public struct NotifyFilter: Sendable {
    public enum Transition: String, Sendable, CaseIterable {
        case raised, cleared, acked, stale, offline
    }

    public var transitions: Set<Transition> = [.raised, .cleared]
    /// nil: any rule (and alerts that come from no rule); otherwise only rules that match.
    public var rules: [Selector]?
    public var keys: [Selector]?
    public var minSeverity = AlertRule.Severity.info

    public init() {}
}
