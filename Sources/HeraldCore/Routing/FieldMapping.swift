/// What a route takes from the payload beyond the topic (DESIGN §5, "field mapping"): readings,
/// or a job's state, progress, ETA and message, each from a field by dotted path, with values
/// mapped (event names to job states). The built-in sources do the same for the feeds they know.
///
/// ```yaml
/// - topic: "factory/+/telemetry"
///   channel: machines
///   key: "{1}"
///   readings: { temperature: { field: temp.c, unit: "°C" }, rpm: spindle.rpm }
/// - topic: "printers/+/events"
///   channel: jobs
///   kind: job
///   key: "{1}/{$job}"
///   job: { state: { field: event, map: { started: running, done: succeeded } }, progress: pct, eta: left_s }
/// ```
public struct FieldMapping: Sendable, Equatable {
    public struct Reading: Sendable, Equatable {
        public var name: String
        public var field: String
        public var unit: String?
    }

    /// A field whose values may be renamed on the way (`map`); others pass as they are.
    public struct Value: Sendable, Equatable {
        public var field: String
        public var map: [String: String] = [:]
    }

    public struct Job: Sendable, Equatable {
        public var state: Value?
        public var progress: String?
        public var eta: String?
        public var message: String?
        public var done: String?
        public var total: String?
    }

    public var readings: [Reading] = []
    public var job: Job?
}

/// A matched route whose events depend on the payload.
struct MappedRoute: Sendable, Equatable {
    var key: [KeyTemplate.Part]?
    var type: [KeyTemplate.Part]?
    var fields: FieldMapping?

    struct Problem: Error {
        var reason: String
    }

    /// The route's events for one payload: one per reading, or one (a job update, or the payload).
    func drafts(for match: TopicRouter.Match, payload: [UInt8], time: Int64) -> Result<[EventDraft], Problem> {
        let json = try? JSONText(validating: payload)
        var key = match.key
        if let parts = self.key {
            switch KeyTemplate.render(parts, payload: json) {
            case .success(let text): key = text.isEmpty ? nil : text
            case .failure(let missing): return .failure(Problem(reason: "the payload has no field \(missing.path) for the key"))
            }
        }
        var type = match.type
        if let parts = self.type {
            switch KeyTemplate.render(parts, payload: json) {
            case .success(let text): type = text
            case .failure(let missing): return .failure(Problem(reason: "the payload has no field \(missing.path) for the type"))
            }
            do { try Names.validateType(type) } catch { return .failure(Problem(reason: "the type taken from the payload is refused: \(error.reason)")) }
        }
        if let key {
            do { try Names.validateKey(key) } catch { return .failure(Problem(reason: "the key taken from the payload is refused: \(error.reason)")) }
        }
        guard let fields, !fields.readings.isEmpty || fields.job != nil else {
            return .success([EventDraft(channel: match.channel, type: type, key: key, time: time, data: PayloadNormalizer.json(for: payload))])
        }
        guard let json else { return .failure(Problem(reason: "the route maps fields, and the payload is not JSON")) }
        if let job = fields.job { return jobDraft(job, json: json, match: match, type: type, key: key, time: time).map { [$0] } }
        var drafts: [EventDraft] = []
        for reading in fields.readings {
            guard let value = json.value(at: reading.field), !value.isContainer else { continue }
            var data = "{\"value\":" + value.singleLine
            if let unit = reading.unit { data += ",\"unit\":" + JSONText.quoted(unit) }
            let readingKey = key.map { $0 + "/" + reading.name } ?? reading.name
            do { try Names.validateKey(readingKey) } catch {
                return .failure(Problem(reason: "the key of reading \(reading.name) is refused: \(error.reason)"))
            }
            drafts.append(EventDraft(channel: match.channel, type: "reading", key: readingKey, time: time, data: data + "}"))
        }
        if drafts.isEmpty {
            return .failure(Problem(reason: "none of the route's reading fields (\(fields.readings.map(\.field).joined(separator: ", "))) is in the payload"))
        }
        return .success(drafts)
    }

    private func jobDraft(_ job: FieldMapping.Job, json: JSONText, match: TopicRouter.Match, type: String, key: String?,
                          time: Int64) -> Result<EventDraft, Problem> {
        var members: [String] = []
        if let state = job.state {
            guard let value = json.value(at: state.field), let text = value.stringValue ?? (value.isContainer ? nil : value.singleLine) else {
                return .failure(Problem(reason: "the payload has no field \(state.field) for the job's state"))
            }
            let mapped = state.map[text] ?? text
            guard JobTracker.states.contains(mapped) else {
                return .failure(Problem(reason: "\(state.field) is \(JSONText.quoted(text)), which is no job state (map it to one of \(JobTracker.states.sorted().joined(separator: ", ")))"))
            }
            members.append("\"state\":" + JSONText.quoted(mapped))
        }
        for (name, field) in [("progress", job.progress), ("remaining_seconds", job.eta), ("done", job.done), ("total", job.total)] {
            if let field, let number = json.value(at: field)?.numberValue ?? json.value(at: field)?.stringValue.flatMap(JSONNumber.parse) {
                members.append(JSONText.quoted(name) + ":" + jsonNumber(number))
            }
        }
        if let field = job.message, let value = json.value(at: field) {
            members.append("\"message\":" + JSONText.quoted(value.stringValue ?? value.singleLine))
        }
        return .success(EventDraft(channel: match.channel, type: type, key: key, time: time, data: "{" + members.joined(separator: ",") + "}"))
    }
}
