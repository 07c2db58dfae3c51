/// A threshold on readings with hysteresis (DESIGN §6): `above: 30, clear_below: 29` raises once
/// when the value goes over 30 and clears once when it falls under 29, never repeating in between.
public struct AlertRule: Sendable, Equatable {
    public enum Severity: String, Sendable, CaseIterable {
        case info, warning, critical
    }

    public var name: String
    public var channel: String
    public var key: String?
    /// A dotted path into the event's data.
    public var field: String
    public var above: Double?
    public var clearBelow: Double?
    public var below: Double?
    public var clearAbove: Double?
    public var severity: Severity
    public var message: String?
    /// Seconds a device (`key`: its id; nil: any device on `channel`) may stay offline before the
    /// rule raises; it clears when the device is back online.
    public var offlineFor: Double?

    public init(name: String, channel: String, key: String? = nil, field: String = "value",
                above: Double? = nil, clearBelow: Double? = nil, below: Double? = nil, clearAbove: Double? = nil,
                severity: Severity = .warning, message: String? = nil, offlineFor: Double? = nil) {
        self.name = name
        self.channel = channel
        self.key = key
        self.field = field
        self.above = above
        self.clearBelow = clearBelow
        self.below = below
        self.clearAbove = clearAbove
        self.severity = severity
        self.message = message
        self.offlineFor = offlineFor
    }

    public enum Transition: Equatable {
        case raise(threshold: Double)
        case clear(threshold: Double)
    }

    /// What a new value does to an alert that is `active` or not.
    public func transition(value: Double, active: Bool) -> Transition? {
        if !active {
            if let above, value > above { return .raise(threshold: above) }
            if let below, value < below { return .raise(threshold: below) }
            return nil
        }
        // Clear only once the value is back on the safe side of every threshold set.
        let clearsHigh = above.map { value < (clearBelow ?? $0) } ?? true
        let clearsLow = below.map { value > (clearAbove ?? $0) } ?? true
        guard clearsHigh && clearsLow else { return nil }
        return .clear(threshold: above.map { clearBelow ?? $0 } ?? below.map { clearAbove ?? $0 } ?? value)
    }

    public func applies(to event: StoredEvent) -> Bool {
        event.channel == channel && (key == nil || event.key == key)
    }

    /// Why the thresholds cannot work, or nil.
    public var problem: String? {
        if offlineFor != nil {
            return above == nil && below == nil ? nil : "offline_for does not go with above or below: make two rules"
        }
        if above == nil && below == nil { return "an alert rule needs 'above', 'below' or 'offline_for'" }
        if let above, let clearBelow, clearBelow > above { return "clear_below must not be greater than above" }
        if let below, let clearAbove, clearAbove < below { return "clear_above must not be less than below" }
        if clearBelow != nil && above == nil { return "clear_below goes with above" }
        if clearAbove != nil && below == nil { return "clear_above goes with below" }
        return nil
    }
}
