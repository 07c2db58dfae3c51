/// The broker connection's life as the rest of Herald sees it. Readiness (`/readyz`, the systemd
/// status line), the `herald_mqtt_connected` gauge and the `$status` events all follow from this one
/// value, and only `handle(_:signals:)` changes it, so the three cannot disagree.
enum BrokerState: Equatable, Sendable {
    /// The bridge has not started: readiness is unknown.
    case idle
    /// Started; no connection accepted yet. libmosquitto retries with backoff.
    case connecting
    /// The broker accepted the connection and the subscriptions are on their way. Not ready yet: a
    /// first-time session would not receive what is published before the SUBACKs.
    case subscribing(sessionPresent: Bool)
    case connected
    /// The connection is open but the broker has not echoed Herald's heartbeat for a keepalive (a
    /// frozen broker whose kernel still acknowledges TCP). Reported as disconnected.
    case unresponsive(reason: String)
    /// The connection ended; libmosquitto reconnects with backoff.
    case disconnected(reason: String)
    /// The bridge has stopped; nothing moves it any more.
    case stopped
}

/// What the bridge learns about the connection, from the network thread or the heartbeat.
enum BrokerEvent: Equatable, Sendable {
    case started
    /// A CONNACK that accepted the connection.
    case accepted(sessionPresent: Bool)
    /// Every subscription made on connect is acknowledged.
    case subscribed
    /// The heartbeat has not come back for a keepalive.
    case silent(reason: String)
    /// The heartbeat came back.
    case answered
    /// The connection ended (`reason` says who ended it).
    case dropped(reason: String)
    case stopped
}

extension BrokerState {
    /// The state `event` leads to, or nil when it cannot happen in this one: an echo while connected,
    /// a SUBACK for a subscription a source made later, a silence after the connection closed.
    func next(after event: BrokerEvent) -> BrokerState? {
        switch (self, event) {
        case (.stopped, _): nil
        case (_, .stopped): .stopped
        case (.idle, .started): .connecting
        case (.idle, _), (_, .started): nil
        // Whatever came before: a connection that ended without a disconnect callback (the socket
        // closed under libmosquitto) is still followed by a new session.
        case (_, .accepted(let present)): .subscribing(sessionPresent: present)
        case (.subscribing, .subscribed): .connected
        case (.subscribing, .silent(let reason)), (.connected, .silent(let reason)): .unresponsive(reason: reason)
        case (.unresponsive, .answered): .connected
        case (.subscribing, .dropped(let reason)), (.connected, .dropped(let reason)), (.unresponsive, .dropped(let reason)):
            .disconnected(reason: reason)
        default: nil
        }
    }

    /// What `/readyz` reports: nil before the bridge starts, true only while connected.
    var isReady: Bool? {
        switch self {
        case .idle: nil
        case .connected: true
        default: false
        }
    }

    /// Whether a connection is open, so the heartbeat has something to publish on.
    var hasConnection: Bool {
        switch self {
        case .subscribing, .connected, .unresponsive: true
        default: false
        }
    }
}
