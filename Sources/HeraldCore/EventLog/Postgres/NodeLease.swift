import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Which node holds a role among several (the MQTT session, or the duties one node runs for
/// all): the one whose connection holds the role's session-level advisory
/// lock. PostgreSQL releases the lock when that connection ends, so a holder that dies (SIGKILL,
/// a crash, the machine) frees it at once, and the standbys, trying every `interval`, take it.
///
/// A holder that loses the database stops being the holder before anyone else can start: its
/// check (`SELECT 1` every `interval`, answered within `checkTimeout`) fails and it lets go
/// first; the server ends a session silent for `idle_session_timeout` (set on the lease
/// connection, longer than the check timeout), and only then can a standby take the lock.
/// The broker also keeps one connection per client id, and the duplicate check in PostgreSQL
/// (`PostgresMQTTLedger`) stores a message delivered to two nodes once.
public final class NodeLease: Sendable, Service {
    public struct Options: Sendable {
        /// How often a standby tries to take the lease and the holder checks it still has it.
        public var interval: Duration = .seconds(1)
        /// The holder lets go when a check is not answered within this.
        public var checkTimeout: Duration = .seconds(3)
        /// The server ends a lease connection silent this long, releasing the lock.
        public var idleSessionTimeout: Duration = .seconds(6)

        public init() {}
    }

    /// One state for the lease's life; `next` refuses a transition that makes no sense.
    public enum State: Sendable, Equatable {
        case standby(lastFailure: String?)
        case holding
        case stopped

        func next(_ event: Event) -> State {
            switch (self, event) {
            case (.standby, .acquired): return .holding
            case (.standby, .notAcquired(let reason)): return .standby(lastFailure: reason)
            case (.holding, .lost(let reason)): return .standby(lastFailure: reason)
            case (_, .stop): return .stopped
            default: preconditionFailure("NodeLease: \(event) while \(self)")
            }
        }
    }

    enum Event { case acquired, notAcquired(String?), lost(String), stop }

    /// What a lease is for; each has an advisory lock of its own.
    public enum Role: String, Sendable {
        /// The broker session (`MQTTSessionLease`).
        case mqttSession = "MQTT session"
        /// Notifications out and the stale and offline watchers (`LeasedDuties`).
        case duties

        var lockKey: Int64 {
            switch self {
            case .mqttSession: PostgresSchema.LockKey.mqttSession
            case .duties: PostgresSchema.LockKey.duties
            }
        }
    }

    let log: PostgresEventLog
    let role: Role
    let options: Options
    private let state = Mutex(State.standby(lastFailure: nil))
    private let onChange: @Sendable (Bool) -> Void

    /// `onChange(true)` when this node takes the lease, `onChange(false)` when it lets it go;
    /// from the lease's task, in that order, never twice the same.
    public init(log: PostgresEventLog, role: Role, options: Options = Options(), onChange: @escaping @Sendable (Bool) -> Void) {
        self.log = log
        self.role = role
        self.options = options
        self.onChange = onChange
    }

    public var current: State { state.withLock { $0 } }

    public var isHolding: Bool { current == .holding }

    private func apply(_ event: Event) {
        let (before, after) = state.withLock { state in
            let before = state
            state = state.next(event)
            return (before, state)
        }
        if before != .holding, after == .holding { onChange(true) }
        if before == .holding, after != .holding { onChange(false) }
    }

    /// Holds or waits for the lease until cancelled. A graceful shutdown alone does not end it:
    /// the holder lets go once its work has drained (`runTerms` cancels it then), so no other
    /// node starts the same work while this one is finishing.
    public func run() async throws {
        defer { apply(.stop) }
        var connection: WatchedConnection?
        while !Task.isCancelled {
            do {
                if connection == nil || connection!.isClosed {
                    if isHolding { apply(.lost("the lease connection closed")) }
                    connection = try await leaseConnection()
                }
                if isHolding {
                    try await check(connection!)
                } else if try await tryLock(connection!) {
                    apply(.acquired)
                    log.logger.notice("this node holds the \(role.rawValue) lease")
                } else {
                    apply(.notAcquired(nil))
                }
            } catch {
                let reason = String(describing: PostgresFailure.from(error, endpoint: log.endpoint))
                if isHolding {
                    apply(.lost(reason))
                    log.logger.warning("\(role.rawValue) lease lost; standing by", metadata: ["error": "\(reason)"])
                } else {
                    apply(.notAcquired(reason))
                }
                await connection?.close()
                connection = nil
            }
            try? await Task.sleep(for: options.interval)
        }
        if isHolding { apply(.lost("shutting down")) }
        // Closing the connection releases the lock for the next node at once.
        await connection?.close()
    }

    private func leaseConnection() async throws -> WatchedConnection {
        let connection = try await log.connect()
        let milliseconds = options.idleSessionTimeout.components.seconds * 1000
            + options.idleSessionTimeout.components.attoseconds / 1_000_000_000_000_000
        let logger = log.logger
        do {
            try await connection.run(deadline: options.checkTimeout) { connection in
                try await connection.query("SELECT set_config('idle_session_timeout', \(String(milliseconds)), false)", logger: logger)
            }
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// The holder's check. A server that stopped answering (a network cut) would leave the
    /// query waiting for TCP to give up, so the deadline closes the connection, which ends it.
    private func check(_ connection: WatchedConnection) async throws {
        let logger = log.logger
        try await connection.run(deadline: options.checkTimeout) { connection in
            try await connection.query("SELECT 1", logger: logger)
        }
    }

    private func tryLock(_ connection: WatchedConnection) async throws -> Bool {
        let logger = log.logger
        return try await connection.run(deadline: options.checkTimeout) { connection in
            for try await taken in try await connection.query("SELECT pg_try_advisory_lock(\(self.role.lockKey))", logger: logger).decode(Bool.self) {
                return taken
            }
            return false
        }
    }
}
