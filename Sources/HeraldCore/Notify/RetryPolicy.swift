/// When a failed delivery is tried again: exponential backoff from `base` up to `cap`, with
/// full jitter (a random wait in the upper half of the step), so targets that failed together do
/// not all come back in the same instant. A server's `Retry-After` wins, within `cap`.
struct RetryPolicy: Sendable {
    var base: Duration = .seconds(1)
    var cap: Duration = .seconds(300)

    func delay(afterAttempt attempt: Int, retryAfter: Duration?,
               random: (ClosedRange<Double>) -> Double = { Double.random(in: $0) }) -> Duration {
        if let retryAfter { return min(retryAfter, cap) }
        let step = min(base * (1 << min(max(attempt - 1, 0), 20)), cap)
        return step * random(0.5...1.0)
    }
}
