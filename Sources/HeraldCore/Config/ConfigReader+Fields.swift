import Yams

/// A route's field mapping: `readings:` and `job:` (see `FieldMapping`).
extension ConfigReader {
    static func isLiteral(_ part: KeyTemplate.Part) -> Bool {
        if case .literal = part { return true }
        return false
    }

    /// `readings: { temperature: temp.c, rpm: { field: spindle.rpm, unit: rpm } }`
    mutating func readReadings(_ node: Node) -> [FieldMapping.Reading] {
        guard let mapping = node.mapping else { fail(node, "readings must map reading names to fields"); return [] }
        var readings: [FieldMapping.Reading] = []
        for (nameNode, value) in mapping {
            guard let name = nameNode.string, !name.isEmpty else { fail(nameNode, "a reading needs a name"); continue }
            if name.contains("/") || name.utf8.contains(where: { $0 < 0x20 }) {
                fail(nameNode, "reading name '\(name)' may not hold '/' or control characters")
                continue
            }
            if case .scalar = value {
                if let field = fieldPath(value, "readings.\(name)") { readings.append(.init(name: name, field: field)) }
                continue
            }
            var field: String?, unit: String?
            for (key, setting) in members(value, "readings.\(name)", known: ["field", "unit"]) {
                if key == "field" { field = fieldPath(setting, "readings.\(name).field") } else { unit = string(setting, key) }
            }
            guard let field else { fail(value, "readings.\(name) needs a field"); continue }
            readings.append(.init(name: name, field: field, unit: unit))
        }
        if readings.isEmpty && mapping.count == 0 { fail(node, "readings must name at least one reading") }
        return readings
    }

    /// `job: { state: { field: event, map: { PrintDone: succeeded } }, progress: pct, eta: left, message: text }`
    mutating func readJobFields(_ node: Node) -> FieldMapping.Job? {
        var job = FieldMapping.Job()
        let known: Set = ["state", "progress", "eta", "message", "done", "total"]
        for (key, value) in members(node, "job", known: known) {
            switch key {
            case "state":
                if case .scalar = value {
                    job.state = fieldPath(value, "job.state").map { FieldMapping.Value(field: $0) }
                    continue
                }
                var state = FieldMapping.Value(field: "")
                for (name, setting) in members(value, "job.state", known: ["field", "map"]) {
                    if name == "field" { state.field = fieldPath(setting, "job.state.field") ?? "" }
                    else { state.map = readStateMap(setting) }
                }
                if state.field.isEmpty { fail(value, "job.state needs a field") } else { job.state = state }
            case "progress": job.progress = fieldPath(value, "job.progress")
            case "eta": job.eta = fieldPath(value, "job.eta")
            case "message": job.message = fieldPath(value, "job.message")
            case "done": job.done = fieldPath(value, "job.done")
            default: job.total = fieldPath(value, "job.total")
            }
        }
        if job.state == nil && job.progress == nil && job.done == nil {
            fail(node, "job: needs at least state, progress or done (a field for each)")
            return nil
        }
        return job
    }

    private mutating func readStateMap(_ node: Node) -> [String: String] {
        guard let mapping = node.mapping else { fail(node, "job.state.map must map values to job states"); return [:] }
        var map: [String: String] = [:]
        for (from, to) in mapping {
            guard let value = from.string, let state = to.string else { fail(from, "job.state.map entries are text: text"); continue }
            if JobTracker.states.contains(state) { map[value] = state }
            else { fail(to, "'\(state)' is no job state (one of \(JobTracker.states.sorted().joined(separator: ", ")))") }
        }
        return map
    }

    /// A dotted path into the payload: `temp.c`.
    private mutating func fieldPath(_ node: Node, _ name: String) -> String? {
        guard let text = string(node, name) else { return nil }
        if text.isEmpty || text.split(separator: ".", omittingEmptySubsequences: false).contains("") {
            fail(node, "\(name) must be a field path like temp or reading.celsius")
            return nil
        }
        return text
    }
}
