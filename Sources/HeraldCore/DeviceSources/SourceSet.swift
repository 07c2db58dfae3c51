import Metrics
import Synchronization

/// The built-in sources that are switched on, and the catalog of what they found. The MQTT bridge
/// asks it about every message no user route takes; it answers with the events, device state and
/// subscriptions the message means (or nil: not a source's).
final class SourceSet: Sendable {
    struct Configured: Sendable {
        var source: any DeviceSource
        /// Where its readings, availability and descriptions go.
        var channel: String
    }

    struct Limits: Sendable {
        var devicesPerSource = 1_000
        var readingsPerDevice = 100
    }

    private struct State: Sendable {
        var sources: [Configured]
        var catalog: DeviceCatalog
    }

    private let state: Mutex<State>
    let jobsChannel: String
    let limits: Limits
    /// Every source's fixed subscriptions.
    let filters: [String]
    let names: [String]
    private let metrics: [SourceMetrics]

    init(_ sources: [Configured], jobsChannel: String, limits: Limits = Limits(), catalog: DeviceCatalog = DeviceCatalog()) {
        state = Mutex(State(sources: sources, catalog: catalog))
        self.jobsChannel = jobsChannel
        self.limits = limits
        filters = sources.flatMap(\.source.filters)
        names = sources.map(\.source.name)
        metrics = names.map(SourceMetrics.init)
    }

    /// Restores sources' memory and the catalog from the store.
    func restore(from log: any DeviceStore) async throws {
        let records = try await log.deviceStates()
        let memories = try await log.sourceMemories(names)
        state.withLock { state in
            state.catalog = DeviceCatalog(records)
            for index in state.sources.indices {
                state.sources[index].source.restore(memories[state.sources[index].source.name] ?? [:])
            }
        }
    }

    /// Topics beyond `filters` that the sources follow now (named by discovery configs).
    var extraTopics: [String] { state.withLock { $0.sources.flatMap(\.source.extraTopics) } }

    var catalog: DeviceCatalog { state.withLock { $0.catalog } }

    func isMetadata(_ topic: String) -> Bool {
        state.withLock { $0.sources.contains { $0.source.isMetadata(topic) } }
    }

    /// What a message means, or nil when no source takes it.
    func interpret(_ message: SourceMessage, time: Int64 = Clock.nowMilliseconds()) -> SourceOutcome? {
        state.withLock { state in
            for index in state.sources.indices {
                // No copy of the source is kept to undo what it learnt from a message that cannot
                // be stored: a copy per message and source cost more than the message. What a
                // source keeps is bounded, and a message that fails changes nothing stored.
                guard let observations = state.sources[index].source.interpret(message, known: state.catalog) else { continue }
                let configured = state.sources[index]
                // The catalog moves into the builder and back, so a change does not copy it whole.
                var builder = OutcomeBuilder(source: configured.source.name, channel: configured.channel, jobsChannel: jobsChannel,
                                             limits: limits, time: time, catalog: state.catalog)
                state.catalog = DeviceCatalog()
                for observation in observations { builder.take(observation) }
                let outcome = builder.finish()
                state.catalog = builder.takeCatalog()
                metrics[index].count(outcome)
                return outcome
            }
            return nil
        }
    }
}

/// What one message means to the source that took it.
struct SourceOutcome: Sendable {
    var source: String
    var drafts: [EventDraft] = []
    var effects: [DeviceEffect] = []
    var subscribe: [String] = []
    var unsubscribe: [String] = []
    /// Set when the message cannot be understood: it goes to `$deadletter` as it came.
    var problem: String?
    var warnings: [String] = []
    var ignored: String?
}

/// Turns a source's observations into events with device ids, units and effects: a device's
/// description event comes before its readings, once per message, and only when it changed.
private struct OutcomeBuilder {
    let source: String
    let channel: String
    let jobsChannel: String
    let limits: SourceSet.Limits
    let time: Int64
    var catalog: DeviceCatalog
    var outcome: SourceOutcome
    private var changedOrder: [String] = []
    private var changed: [String: DeviceDescription] = [:]
    private var events: [EventDraft] = []
    private var availabilities: [String: Availability] = [:]
    /// Devices new in this message, and those the limit refused.
    private var added: Set<String> = []
    private var refused: Set<String> = []
    private var refusedReadings = 0

    init(source: String, channel: String, jobsChannel: String, limits: SourceSet.Limits, time: Int64, catalog: DeviceCatalog) {
        self.source = source
        self.channel = channel
        self.jobsChannel = jobsChannel
        self.limits = limits
        self.time = time
        self.catalog = catalog
        outcome = SourceOutcome(source: source)
    }

    /// The catalog as this message leaves it (`finish` changes it only when the message can be stored).
    mutating func takeCatalog() -> DeviceCatalog {
        defer { catalog = DeviceCatalog() }
        return catalog
    }

    mutating func take(_ observation: Observation) {
        guard outcome.problem == nil else { return }
        switch observation {
        case .device(let info):
            guard var device = description(of: info.device) else { return }
            if let name = info.name, !name.isEmpty { device.name = name }
            device.model = info.model ?? device.model
            device.vendor = info.vendor ?? device.vendor
            for (name, spec) in info.readings {
                if device.readings[name] == nil {
                    if device.readings.count >= limits.readingsPerDevice { refuseReading(name, of: device); continue }
                    if let problem = Self.keyProblem(device.id + "/" + name) { outcome.warnings.append(problem); continue }
                }
                device.readings[name] = spec.merged(over: device.readings[name] ?? ReadingSpec())
            }
            update(device)
        case .reading(let name, let reading, let value, let spec):
            guard var device = description(of: name) else { return }
            let known = device.readings[reading]
            let key = device.id + "/" + reading
            // A reading the device has is a key checked before.
            if known == nil {
                if device.readings.count >= limits.readingsPerDevice { return refuseReading(reading, of: device) }
                if let problem = Self.keyProblem(key) { return fail(problem) }
            }
            let merged = spec.isEmpty ? known ?? spec : spec.merged(over: known ?? ReadingSpec())
            if merged != known {
                device.readings[reading] = merged
                update(device)
            }
            var data = "{\"value\":" + value
            if let unit = merged.unit { data += ",\"unit\":" + JSONText.quoted(unit) }
            if let text = DeviceRecord.text(of: value, spec: merged) { data += ",\"text\":" + JSONText.quoted(text) }
            events.append(EventDraft(channel: channel, type: "reading", key: key, time: time, data: data + "}"))
        case .availability(let name, let availability):
            guard let device = description(of: name) else { return }
            update(device)
            guard (availabilities[device.id] ?? catalog[device.id]?.availability) != availability else { return }
            availabilities[device.id] = availability
            events.append(EventDraft(channel: channel, type: "availability", key: device.id, time: time,
                                     data: "{\"availability\":\"\(availability.rawValue)\"}"))
            outcome.effects.append(.availability(deviceId: device.id, availability))
        case .job(let key, let report):
            let fullKey = source + "/" + key
            if let problem = Self.keyProblem(fullKey) { return fail(problem) }
            events.append(EventDraft(channel: jobsChannel, type: "progress", key: fullKey, time: time, data: report.json))
        case .dropReading(let name, let reading):
            guard var device = changed[source + "/" + name] ?? catalog[source + "/" + name]?.description,
                  device.readings.removeValue(forKey: reading) != nil else { return }
            update(device)
        case .remember(let name, let value):
            outcome.effects.append(.remember(source: source, name: name, value: value))
        case .subscribe(let topic): outcome.subscribe.append(topic)
        case .unsubscribe(let topic): outcome.unsubscribe.append(topic)
        case .ignored(let reason): outcome.ignored = reason
        case .problem(let reason): fail(reason)
        case .warning(let text): outcome.warnings.append(text)
        }
    }

    private mutating func fail(_ reason: String) {
        outcome.problem = reason
    }

    /// The device as this message left it so far (on the source's channel now, which the
    /// configuration may have changed); a new one when the source's limit allows.
    private mutating func description(of name: String) -> DeviceDescription? {
        let id = source + "/" + name
        if var device = changed[id] ?? catalog[id]?.description {
            device.channel = channel
            return device
        }
        if refused.contains(id) { return nil }
        if catalog.count(of: source) + added.count >= limits.devicesPerSource {
            // Refused alone: the rest of the message (other devices of a bridge/devices) still counts.
            Counter(label: "herald_source_refused_total", dimensions: [("source", source), ("limit", "devices")]).increment()
            outcome.warnings.append("\(source) already has \(limits.devicesPerSource) devices, the limit (sources.max_devices); \(name) is not kept")
            refused.insert(id)
            return nil
        }
        if let problem = Self.keyProblem(id) {
            fail(problem)
            return nil
        }
        added.insert(id)
        return DeviceDescription(id: id, name: name, source: source, channel: channel)
    }

    private mutating func refuseReading(_ reading: String, of device: DeviceDescription) {
        outcome.warnings.append("device \(device.id) has \(limits.readingsPerDevice) readings, the limit (sources.max_readings_per_device); \(reading) is not kept")
        Counter(label: "herald_source_refused_total", dimensions: [("source", source), ("limit", "readings")]).increment()
        refusedReadings += 1
    }

    private mutating func update(_ device: DeviceDescription) {
        let before = changed[device.id] ?? catalog[device.id]?.description
        guard before != device else { return }
        if changed[device.id] == nil { changedOrder.append(device.id) }
        changed[device.id] = device
    }

    static func keyProblem(_ key: String) -> String? {
        do { try Names.validateKey(key); return nil } catch { return "the key \(JSONText.quoted(key)) is refused: \(error.reason)" }
    }

    mutating func finish() -> SourceOutcome {
        // Nothing kept because of the limits: the message goes to $deadletter, as it came.
        if events.isEmpty && changedOrder.isEmpty && (!refused.isEmpty || refusedReadings > 0) && outcome.problem == nil {
            fail(outcome.warnings.joined(separator: "; "))
        }
        guard outcome.problem == nil else { return SourceOutcome(source: source, problem: outcome.problem) }
        var drafts: [EventDraft] = []
        var effects: [DeviceEffect] = []
        for id in changedOrder {
            guard let device = changed[id] else { continue }
            drafts.append(EventDraft(channel: channel, type: "device", key: id, time: time, data: device.json))
            effects.append(.describe(device))
        }
        for id in Set(changedOrder).union(availabilities.keys) {
            guard let device = changed[id] ?? catalog[id]?.description else { continue }
            catalog.set(.init(description: device, availability: availabilities[id] ?? catalog[id]?.availability ?? .unknown))
        }
        outcome.drafts = drafts + events
        outcome.effects = effects + outcome.effects
        return outcome
    }
}

/// A source's counters, made once: a metric looked up by label costs a lock and a hash per message.
struct SourceMetrics: Sendable {
    let stored: Counter
    let ignored: Counter
    let problems: Counter
    let warnings: Counter

    init(source: String) {
        let label = "herald_source_messages_total"
        stored = Counter(label: label, dimensions: [("source", source), ("result", "stored")])
        ignored = Counter(label: label, dimensions: [("source", source), ("result", "ignored")])
        problems = Counter(label: label, dimensions: [("source", source), ("result", "problem")])
        warnings = Counter(label: "herald_source_warnings_total", dimensions: [("source", source)])
    }

    func count(_ outcome: SourceOutcome) {
        (outcome.problem != nil ? problems : outcome.drafts.isEmpty ? ignored : stored).increment()
        if !outcome.warnings.isEmpty { warnings.increment(by: outcome.warnings.count) }
    }
}
