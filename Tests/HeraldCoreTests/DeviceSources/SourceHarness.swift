@testable import HeraldCore

/// Every built-in source on its defaults, fed one message at a time as the bridge would.
struct SourceHarness {
    let sources: SourceSet

    init(_ config: SourcesConfig = SourcesConfig()) {
        sources = config.makeSourceSet()
    }

    @discardableResult
    func feed(_ topic: String, _ payload: String, retain: Bool = false) -> SourceOutcome? {
        sources.interpret(SourceMessage(topic: topic, payload: Array(payload.utf8), retain: retain), time: 1_000)
    }

    /// Reading events of an outcome by key, their data as text.
    static func readings(_ outcome: SourceOutcome?) -> [String: String] {
        Dictionary((outcome?.drafts ?? []).filter { $0.type == "reading" }.map { ($0.key ?? "", $0.data) }, uniquingKeysWith: { $1 })
    }

    static func types(_ outcome: SourceOutcome?) -> [String] { (outcome?.drafts ?? []).map(\.type) }

    static func jobs(_ outcome: SourceOutcome?) -> [(key: String, data: String)] {
        (outcome?.drafts ?? []).filter { $0.channel == "jobs" }.map { ($0.key ?? "", $0.data) }
    }
}
