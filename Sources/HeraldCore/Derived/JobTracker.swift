import GRDB

/// A job's current state, kept in the `jobs` table by the writer (DESIGN §6).
public struct JobRecord: Sendable, Equatable {
    public var channel: String
    public var key: String
    public var state: String
    public var progress: Double?
    public var message: String?
    public var done: Double?
    public var total: Double?
    public var startedAt: Int64
    public var updatedAt: Int64
    /// Smoothed: units (`done`) or percent per second.
    public var rate: Double?
    public var etaSeconds: Double?
    public var lastEventId: Int64
    public var terminalEventId: Int64?

    public var isTerminal: Bool { JobTracker.terminalStates.contains(state) }

    public var json: String {
        "{\"key\":\(JSONText.quoted(key)),\"channel\":\(JSONText.quoted(channel)),\"state\":\(JSONText.quoted(state))"
            + ",\"progress\":\(jsonNumber(progress)),\"message\":\(jsonString(message))"
            + ",\"done\":\(jsonNumber(done)),\"total\":\(jsonNumber(total))"
            + ",\"startedAt\":\(jsonTime(startedAt)),\"updatedAt\":\(jsonTime(updatedAt))"
            + ",\"rate\":\(jsonNumber(rate)),\"etaSeconds\":\(jsonNumber(etaSeconds))"
            + ",\"lastEventId\":\(lastEventId),\"terminal\":\(isTerminal)}"
    }

    static let columns = "channel, key, state, progress, message, done, total, started_at, updated_at, rate, eta_seconds, last_event_id, terminal_event_id"

    init(row: Row) {
        channel = row[0]; key = row[1]; state = row[2]; progress = row[3]; message = row[4]
        done = row[5]; total = row[6]; startedAt = row[7]; updatedAt = row[8]; rate = row[9]
        etaSeconds = row[10]; lastEventId = row[11]; terminalEventId = row[12]
    }

    init(channel: String, key: String, state: String, startedAt: Int64, updatedAt: Int64) {
        self.channel = channel
        self.key = key
        self.state = state
        self.startedAt = startedAt
        self.updatedAt = updatedAt
        self.lastEventId = 0
    }
}

/// Turns job progress events into job state: start time, last update, a smoothed rate and an ETA,
/// which are also added to the event's data. Runs inside the writer's transaction.
enum JobTracker {
    static let states: Set = ["queued", "running", "succeeded", "failed", "cancelled"]
    static let terminalStates: Set = ["succeeded", "failed", "cancelled"]
    /// Weight of the newest measurement in the smoothed rate.
    static let smoothing = 0.3
    /// Updates closer together than this (e.g. `queued` then `running` a few ms apart) would make
    /// a wild rate; they are not measured.
    static let shortestInterval: Int64 = 1_000

    /// The new state of the job this draft reports on, or nil when the data is not a job update.
    static func update(_ previous: JobRecord?, with draft: EventDraft) -> JobRecord? {
        guard let key = draft.key, let data = try? JSONText(validating: Array(draft.data.utf8)),
              let state = data.value(at: "state")?.stringValue, states.contains(state) else { return nil }
        let now = draft.time
        // A job that finished and reports again is a new run.
        let continuing = previous.flatMap { $0.isTerminal ? nil : $0 }
        var job = continuing ?? JobRecord(channel: draft.channel, key: key, state: state, startedAt: now, updatedAt: now)
        job.state = state
        job.message = data.value(at: "message")?.stringValue ?? job.message
        job.done = data.value(at: "done")?.numberValue ?? job.done
        job.total = data.value(at: "total")?.numberValue ?? job.total
        if let progress = data.value(at: "progress")?.numberValue {
            job.progress = min(100, max(0, progress))
        } else if let done = job.done, let total = job.total, total > 0 {
            job.progress = min(100, done / total * 100)
        }

        // Rate in done-units when the job counts them, else in percent; smoothed so one slow step
        // does not swing the ETA.
        let usesUnits = job.done != nil && job.total != nil
        let current = usesUnits ? job.done : job.progress
        let before = usesUnits ? continuing?.done : continuing?.progress
        if let continuing, let current, let before, current >= before, now - continuing.updatedAt >= shortestInterval {
            let measured = (current - before) / (Double(now - continuing.updatedAt) / 1000)
            job.rate = continuing.rate.map { smoothing * measured + (1 - smoothing) * $0 } ?? measured
        }
        job.updatedAt = now
        if job.isTerminal {
            job.etaSeconds = 0
        } else if let remaining = data.value(at: "remaining_seconds")?.numberValue, remaining >= 0 {
            // The job says how long it has left (an OTA update, a print): better than a guess from the rate.
            job.etaSeconds = remaining
        } else if let rate = job.rate, rate > 0, let current {
            let remaining = (usesUnits ? (job.total ?? 0) : 100) - current
            job.etaSeconds = max(0, remaining / rate)
        } else {
            job.etaSeconds = nil
        }
        return job
    }

    /// The draft's data with what Herald derived.
    static func enrich(_ data: String, with job: JobRecord) -> String {
        var members = [("started_at", jsonTime(job.startedAt)), ("updated_at", jsonTime(job.updatedAt))]
        if let rate = job.rate { members.append(("rate", jsonNumber((rate * 1000).rounded() / 1000))) }
        if let eta = job.etaSeconds { members.append(("eta_seconds", jsonNumber((eta * 10).rounded() / 10))) }
        return JSONText.object(data, appending: members) ?? data
    }
}
