import NIOCore
import Synchronization

/// The newest committed events as the hub encoded them, so that a client reconnecting a few
/// events behind (every dashboard after a restart of Herald or of its network) resumes from
/// memory: no read of the log, no thread hop to it, and the same frame bytes every live
/// subscriber got. nchan's message buffer plays the same part.
///
/// The ring holds every event published since its oldest one, in id order, so it answers for a
/// Last-Event-ID from its oldest id up to its newest; anything else (older, newer than published
/// yet, a lost range, a reset) goes to the log as before. Retention makes the ring forget what
/// it deleted, so a resume from below the pruned id still gets its `$reset`.
final class RecentFrames: Sendable {
    private struct Ring {
        var frames = CircularBuffer<EventFrame>()
        var bytes = 0
    }

    /// At most this many events and this many bytes of frames are kept.
    let capacity: Int
    let maxBytes: Int
    private let ring = Mutex(Ring())

    init(capacity: Int = 1_000, maxBytes: Int = 1 << 20) {
        (self.capacity, self.maxBytes) = (capacity, maxBytes)
    }

    /// Called by the hub's fan-out only, with each commit's frames in id order.
    func append(_ frames: [EventFrame]) {
        ring.withLock { ring in
            for frame in frames {
                ring.frames.append(frame)
                ring.bytes += frame.bytes.readableBytes
            }
            while ring.frames.count > capacity || (ring.bytes > maxBytes && ring.frames.count > 1) {
                ring.bytes -= ring.frames.removeFirst().bytes.readableBytes
            }
        }
    }

    /// Drops every frame up to `id` (retention deleted events up to there).
    func forget(through id: Int64) {
        ring.withLock { ring in
            while let first = ring.frames.first, first.id <= id {
                ring.bytes -= ring.frames.removeFirst().bytes.readableBytes
            }
        }
    }

    /// The id of the newest frame kept, if any.
    var newestId: Int64? { ring.withLock { $0.frames.last?.id } }

    /// The frames after `lastId` that `filter` takes, and the newest id published, when the ring
    /// covers `lastId`; nil when the log has to answer.
    func after(_ lastId: Int64, matching filter: EventFilter) -> (head: Int64, frames: [EventFrame])? {
        ring.withLock { ring in
            guard let oldest = ring.frames.first, let newest = ring.frames.last,
                  oldest.id <= lastId, lastId <= newest.id else { return nil }
            var frames: [EventFrame] = []
            // Back from the newest: a reconnect is usually a few events behind.
            var index = ring.frames.endIndex
            while index > ring.frames.startIndex {
                let before = ring.frames.index(before: index)
                guard ring.frames[before].id > lastId else { break }
                index = before
            }
            for frame in ring.frames[index...] where filter.matches(channel: frame.channel, key: frame.key) {
                frames.append(frame)
            }
            return (newest.id, frames)
        }
    }
}
