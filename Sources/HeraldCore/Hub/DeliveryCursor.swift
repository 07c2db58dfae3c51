/// Where one live stream stands, and the rules of what it sends next, for both lanes (the
/// connection's loop, `LiveStream`, and a task writing through Hummingbird, `EventStream`):
/// - an event at or below the last id sent was sent already (by history, or queued and posted
///   both during a hand-over) and is skipped;
/// - a stream of one job ends after the job's last event, and sends nothing after it;
/// - a keepalive goes out only while the stream has not ended;
/// - a stream holding more than `capacity` unsent deliveries has fallen behind and is cut off.
struct DeliveryCursor: Sendable {
    private(set) var lastSent: Int64
    /// A stream of one job (`key=`): it ends with the job's terminal event.
    let endsWithJob: Bool
    let capacity: Int
    /// The job's last event was taken: nothing more goes out.
    private(set) var reachedEnd = false

    init(after lastSent: Int64, endsWithJob: Bool, capacity: Int) {
        (self.lastSent, self.endsWithJob, self.capacity) = (lastSent, endsWithJob, capacity)
    }

    /// Whether `frame` goes out; if so, it counts as sent from now on.
    mutating func take(_ frame: EventFrame) -> Bool {
        guard !reachedEnd, frame.id > lastSent else { return false }
        lastSent = frame.id
        if frame.terminal && endsWithJob { reachedEnd = true }
        return true
    }

    var takesKeepalive: Bool { !reachedEnd }

    /// `held` deliveries wait unsent: too many, and the stream is cut off (it resumes by id).
    func overflows(holding held: Int) -> Bool { held > capacity }
}
