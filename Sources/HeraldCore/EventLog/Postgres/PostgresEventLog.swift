import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The event log on PostgreSQL, shared by several Herald nodes. Ids are one order across the
/// nodes: every append takes them from the `head` row under one advisory lock and commits
/// before the lock is released, so a reader following `id > last` never skips an id that
/// commits later (`PostgresEventLog+Append.swift`). Other nodes' commits reach this node
/// through `PostgresEventFeed`; both ways go through one `PublishGate`, in id order.
public final class PostgresEventLog: Sendable, Service {
    public struct Options: Sendable {
        public var location: PostgresLocation
        /// Events waiting for the writer before publishers are told to back off.
        public var queueCapacity = 50_000
        /// Most events written in one transaction.
        public var maxBatch = 2_000
        /// Jobs, alerts and rules, applied as events are stored.
        public var semantics = EventSemantics()
        /// The notifications each stored event owes, written with it (`NotifyRouting`).
        public var notify = NotifyRouting()
        /// The longest wait between two tries to reach the database at start.
        public var maxBackoff: Duration = .seconds(5)
        /// Called with the highest id retention deleted on this node.
        public var onPrune: @Sendable (Int64) -> Void = { _ in }

        public init(location: PostgresLocation) { self.location = location }
    }

    /// Where the log is in its life; `phase` tells readiness and why it is not ready.
    public enum Phase: Sendable, Equatable {
        /// Trying to reach and migrate the database; the last try's failure, if any.
        case starting(attempt: Int, lastFailure: PostgresFailure?)
        case ready
        /// A failure no retry fixes (a wrong password, a newer schema): `run` threw it.
        case failed(PostgresFailure)
        case closed

        func next(_ event: PhaseEvent) -> Phase {
            switch (self, event) {
            case (.starting(let attempt, _), .tryFailed(let failure)):
                return failure.isTransient ? .starting(attempt: attempt + 1, lastFailure: failure) : .failed(failure)
            case (.starting, .migrated): return .ready
            case (.failed, .closed): return self
            case (_, .closed): return .closed
            default:
                preconditionFailure("PostgresEventLog: \(event) while \(self)")
            }
        }
    }

    enum PhaseEvent { case tryFailed(PostgresFailure), migrated, closed }

    let options: Options
    let client: PostgresClient
    let queue: PostgresAppendQueue
    let gate: PublishGate
    let logger: Logger
    let phaseState = Mutex(Phase.starting(attempt: 0, lastFailure: nil))
    /// Channels this node has written or read from the table: only new ones cost an insert.
    let channelsWritten = Mutex<Set<String>>([])
    private let connectionIds = Atomic<Int>(1)

    /// `gate` receives every committed event, this node's and the others', in id order.
    public init(options: Options, gate: PublishGate, logger: Logger) {
        self.options = options
        self.client = PostgresClient(configuration: options.location.clientConfiguration(), backgroundLogger: logger)
        self.queue = PostgresAppendQueue(capacity: options.queueCapacity, maxBatch: options.maxBatch)
        self.gate = gate
        self.logger = logger
    }

    public var phase: Phase { phaseState.withLock { $0 } }

    var endpoint: String { options.location.endpoint }

    func transition(_ event: PhaseEvent) {
        phaseState.withLock { $0 = $0.next(event) }
    }

    /// Reaches the database (retrying with backoff while it is down), migrates it, then writes
    /// until shut down. Throws at once for what no retry fixes.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            let connection = try await self.startUp()
            // The read pool runs only once the log is ready (reads are refused before): a pool
            // cancelled before it ever connected was seen not to return from `run`.
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await self.client.run() }
                defer { group.cancelAll() }
                await self.writeUntilClosed(connection)
            }
        } onGracefulShutdown: {
            self.queue.close()
        }
    }

    /// Stops taking appends; `run` returns once the waiting ones are written.
    public func close() { queue.close() }

    /// Connects the writer's connection and migrates through it; returns the connection.
    private func startUp() async throws -> WatchedConnection {
        var backoff: Duration = .milliseconds(100)
        while true {
            do {
                let connection = try await connect()
                let head: Int64
                do {
                    // A stop during start-up (the migration may wait for another node's lock)
                    // closes the connection, which ends the wait.
                    head = try await connection.run { connection in
                        try await PostgresSchema.migrate(connection, location: self.options.location, logger: self.logger)
                        return try await self.head(connection)
                    }
                } catch {
                    await connection.close()
                    throw error
                }
                gate.begin(after: head)
                transition(.migrated)
                logger.notice("PostgreSQL event log ready", metadata: ["database": "\(options.location)", "head": "\(head)"])
                return connection
            } catch {
                let failure = PostgresFailure.from(error, endpoint: endpoint)
                transition(.tryFailed(failure))
                guard failure.isTransient else { throw failure }
                logger.warning("waiting for PostgreSQL", metadata: ["error": "\(failure)", "retry_in": "\(backoff)"])
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, options.maxBackoff)
            }
        }
    }

    /// A connection of Herald's own (the writer's, the feed's, the lease's), outside the read
    /// pool: it fails at once with the server's reason where the pool would wait for one.
    ///
    /// The connect runs in a task of its own, which a cancellation does not reach (a connect
    /// cancelled at the wrong moment was seen never to finish); a deadline bounds it instead,
    /// past the connect timeout, for a server that accepts and then never answers. A connection
    /// that arrives after its caller gave up is closed (and awaited: postgres-nio requires a
    /// connection to be closed before its last reference goes).
    func connect() async throws -> WatchedConnection {
        let id = connectionIds.wrappingAdd(1, ordering: .relaxed).oldValue
        let configuration = try options.location.connectionConfiguration()
        let logger = logger
        let endpoint = endpoint
        let raw = try await GuardedOutcome<PostgresConnection>().run(
            deadline: Self.connectDeadline, endpoint: endpoint, giveUp: {}, late: { try? await $0.close() }
        ) {
            try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
        }
        return WatchedConnection(raw, endpoint: endpoint)
    }

    /// Longest wait for a connection to be ready, TLS and login included.
    static let connectDeadline: Duration = .seconds(20)

    func requireReady() throws {
        switch phase {
        case .ready: return
        case .failed(let failure): throw failure
        case .starting(_, let failure):
            throw failure ?? PostgresFailure.unreachable(endpoint: endpoint, reason: "not connected yet")
        case .closed: throw PostgresFailure.unreachable(endpoint: endpoint, reason: "the event log is closed")
        }
    }

    func head(_ connection: PostgresConnection) async throws -> Int64 {
        for try await id in try await connection.query("SELECT id FROM head", logger: logger).decode(Int64.self) {
            return id
        }
        throw PostgresFailure.statement(endpoint: endpoint, reason: "the head row is missing")
    }
}
