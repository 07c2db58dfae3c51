/// What `herald discover` found on a broker: messages go through the sources and routes exactly
/// as `herald serve` would take them, and the report says which sources, devices, readings with
/// units and jobs that gives, and which topics nothing takes (with routes to paste for them).
public struct DiscoveryReport: Sendable {
    let sources: SourceSet
    let router: TopicRouter
    private(set) var messages = 0
    private(set) var readings: [String: String] = [:]  // key → data
    private(set) var jobs: [String: String] = [:]
    private(set) var routed: [String: Int] = [:]  // channel → messages
    private(set) var unrouted: [String: [UInt8]] = [:]  // topic → last payload
    private(set) var problems: [String: String] = [:]  // topic → reason
    static let topicLimit = 10_000

    public init(config: HeraldConfig) {
        sources = config.sources.makeSourceSet()
        router = TopicRouter(config.routes)
    }

    mutating func take(_ message: SourceMessage) {
        messages += 1
        if let match = router.route(message.topic) {
            routed[match.channel, default: 0] += 1
            return
        }
        guard let outcome = sources.interpret(message) else {
            if unrouted.count < Self.topicLimit || unrouted[message.topic] != nil { unrouted[message.topic] = message.payload }
            return
        }
        if let problem = outcome.problem, problems.count < Self.topicLimit { problems[message.topic] = problem }
        for draft in outcome.drafts {
            guard let key = draft.key else { continue }
            if draft.type == "reading" { readings[key] = draft.data }
            if draft.channel == sources.jobsChannel { jobs[key] = draft.data }
        }
    }

    /// The report, for a terminal.
    public var text: String {
        let catalog = sources.catalog
        let devices = catalog.devices.values.map(\.description).sorted { $0.id < $1.id }
        var out = "\(messages) messages on \(routed.count + unrouted.count + devices.count > 0 ? "the broker" : "a quiet broker")\n"
        let bySource = Dictionary(grouping: devices, by: \.source)
        out += "\nSources found:\n"
        out += bySource.isEmpty ? "  none\n" : bySource.keys.sorted().map { "  \($0.padded(14)) \(bySource[$0]!.count) device\(bySource[$0]!.count == 1 ? "" : "s")\n" }.joined()
        for device in devices {
            let known = catalog[device.id]
            out += "\n\(device.id)"
            let about = [device.name != device.id.split(separator: "/").dropFirst().joined(separator: "/") ? device.name : nil,
                         [device.vendor, device.model].compactMap { $0 }.joined(separator: " ")].compactMap { $0 }.filter { !$0.isEmpty }
            if !about.isEmpty { out += "  (\(about.joined(separator: ", ")))" }
            out += "  \(known?.availability.rawValue ?? "unknown")\n"
            let prefix = device.id + "/"
            let names = Set(device.readings.keys).union(readings.keys.filter { $0.hasPrefix(prefix) && catalog.owner(of: $0) == device.id }
                .map { String($0.dropFirst(prefix.count)) })
            for name in names.sorted() {
                let data = readings[prefix + name].flatMap { try? JSONText(validating: Array($0.utf8)) }
                let value = data?.value(at: "text")?.stringValue ?? data?.value(at: "value")?.singleLine ?? "—"
                let unit = data?.value(at: "unit")?.stringValue ?? device.readings[name]?.unit
                out += "    \(name.padded(24)) \(value)\(unit.map { " " + $0 } ?? "")\n"
            }
        }
        if !jobs.isEmpty {
            out += "\nJobs:\n"
            for (key, data) in jobs.sorted(by: { $0.key < $1.key }) {
                let json = try? JSONText(validating: Array(data.utf8))
                let progress = json?.value(at: "progress")?.numberValue.map { " \(jsonNumber($0.rounded())) %" } ?? ""
                out += "  \(key.padded(40)) \(json?.value(at: "state")?.stringValue ?? "?")\(progress)\n"
            }
        }
        if !routed.isEmpty {
            out += "\nTaken by routes: " + routed.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ") + "\n"
        }
        if !problems.isEmpty {
            out += "\nTopics a source could not understand (they would go to $deadletter):\n"
            for (topic, reason) in problems.sorted(by: { $0.key < $1.key }).prefix(50) { out += "  \(topic): \(reason)\n" }
        }
        if !unrouted.isEmpty {
            out += "\nTopics no source or route takes (\(unrouted.count)):\n"
            for (topic, payload) in unrouted.sorted(by: { $0.key < $1.key }).prefix(50) {
                out += "  \(topic.padded(40)) \(String(PayloadNormalizer.json(for: payload).prefix(60)))\n"
            }
            out += "\nRoutes for them (paste under routes: in herald.yaml, then `herald check-config`):\n"
            out += RouteSuggestion.yaml(for: unrouted)
        }
        return out
    }
}

extension DeviceCatalog {
    /// The device a reading key belongs to: the longest device id it starts with.
    func owner(of key: String) -> String? {
        devices.keys.filter { key.hasPrefix($0 + "/") }.max { $0.count < $1.count }
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
