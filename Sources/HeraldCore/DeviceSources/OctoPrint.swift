/// OctoPrint's MQTT plugin (https://github.com/OctoPrint/OctoPrint-MQTT): `event/<Event>` for
/// what happens, `progress/printing` (retained) for how far a print is, `temperature/<tool>` and
/// the `mqtt` last will. One job per print, keyed by the file's path.
struct OctoPrintSource: DeviceSource {
    let name = "octoprint"
    let base: String
    /// Paths being printed, so a retained progress of a finished print starts nothing.
    private var printing: Set<String> = []
    static let printer = "printer"

    let under: String

    init(baseTopic: String = "octoPrint") {
        base = baseTopic
        under = baseTopic + "/"
    }

    var filters: [String] { [base + "/#"] }

    mutating func restore(_ memory: [String: String]) {
        printing = Set(memory.keys)
    }

    mutating func interpret(_ message: SourceMessage, known: DeviceCatalog) -> [Observation]? {
        guard message.topic.hasBytePrefix(under) else { return nil }
        let rest = message.topic.dropFirst(base.count + 1)
        if rest == "mqtt" {
            guard let availability = Availability.parse(message.payload) else {
                return [.problem("octoprint: the mqtt last will is neither connected nor disconnected")]
            }
            return [.device(DeviceInfo(device: Self.printer, name: "OctoPrint")), .availability(device: Self.printer, availability)]
        }
        if rest.hasPrefix("temperature/") {
            let tool = String(rest.dropFirst(12))
            guard let json = message.json, let actual = json.value(at: "actual"), actual.numberValue != nil else {
                return [.problem("octoprint: \(rest) has no actual temperature")]
            }
            var observations: [Observation] = [.reading(device: Self.printer, name: tool + "_temperature", value: actual.singleLine,
                                                        spec: ReadingSpec(unit: "°C", deviceClass: "temperature"))]
            if let target = json.value(at: "target"), target.numberValue != nil {
                observations.append(.reading(device: Self.printer, name: tool + "_target", value: target.singleLine,
                                             spec: ReadingSpec(unit: "°C", deviceClass: "temperature")))
            }
            return observations
        }
        guard let json = message.json else { return [.problem("octoprint: \(rest) is not JSON")] }
        if rest == "progress/printing" { return progress(json, retained: message.retain) }
        if rest.hasPrefix("event/") { return event(String(rest.dropFirst(6)), json) }
        return [.ignored(reason: "\(rest) is not about prints")]
    }

    private mutating func progress(_ json: JSONText, retained: Bool) -> [Observation] {
        guard let path = json.value(at: "path")?.stringValue ?? json.value(at: "printer_data.job.file.path")?.stringValue,
              let progress = json.value(at: "progress")?.numberValue
        else { return [.ignored(reason: "progress without a file")] }
        let completion = json.value(at: "printer_data.progress.completion")?.numberValue ?? progress
        // A progress for a print Herald did not see start: in the middle of one, it is one; at 0 or
        // 100 it is the retained copy of one that is over.
        if !printing.contains(path) {
            // The retained copy outlives a failed or cancelled print: only a live one starts a job.
            guard progress > 0 && progress < 100, !retained else { return [.ignored(reason: "progress of a print that is not running")] }
            printing.insert(path)
            return [.remember(name: path, value: "printing"), report(path, "running", completion, "printing", json)]
        }
        return [report(path, "running", completion, "printing", json)]
    }

    private mutating func event(_ name: String, _ json: JSONText) -> [Observation] {
        guard name.hasPrefix("Print") else { return [.ignored(reason: "event \(name) is not about a print")] }
        guard let path = json.value(at: "path")?.stringValue ?? json.value(at: "name")?.stringValue else {
            return [.problem("octoprint: event \(name) names no file")]
        }
        switch name {
        case "PrintStarted":
            printing.insert(path)
            return [.remember(name: path, value: "printing"), report(path, "running", 0, "started", json)]
        case "PrintPaused", "PrintResumed":
            guard printing.contains(path) else { return [.ignored(reason: "\(name) of a print that is not running")] }
            return [report(path, "running", nil, name == "PrintPaused" ? "paused" : "printing", json)]
        case "PrintDone", "PrintFailed", "PrintCancelled":
            // PrintCancelled is followed by PrintFailed (reason "cancelled"): the first one ends it.
            guard printing.remove(path) != nil else { return [.ignored(reason: "\(name) of a print already over")] }
            let reason = json.value(at: "reason")?.stringValue
            let state = name == "PrintDone" ? "succeeded" : name == "PrintCancelled" || reason == "cancelled" ? "cancelled" : "failed"
            let message = state == "succeeded" ? "done" : state == "cancelled" ? "cancelled" : "failed" + (reason.map { ": " + $0 } ?? "")
            return [.remember(name: path, value: nil), report(path, state, state == "succeeded" ? 100 : nil, message, json)]
        default:
            return [.ignored(reason: "event \(name) does not change a print's state")]
        }
    }

    private func report(_ path: String, _ state: String, _ progress: Double?, _ message: String, _ json: JSONText) -> Observation {
        let name = json.value(at: "name")?.stringValue ?? json.value(at: "printer_data.job.file.name")?.stringValue
        let left = json.value(at: "printer_data.progress.printTimeLeft")?.numberValue
        return .job(key: path, JobReport(state: state, progress: progress, message: message, name: name ?? path, etaSeconds: left))
    }
}
