import ServiceLifecycle

extension NodeLease {
    /// Runs a lease for `role` once `log` is ready, and `term` for each stretch this node holds
    /// it. `term` gets `ended`, which returns when the stretch ends (the lease let go, or
    /// shutdown); `term` is cancelled then too, and must return soon after. `onStandby` runs
    /// when the log is ready and after each term.
    static func runTerms(log: PostgresEventLog, role: Role, onStandby: @escaping @Sendable () -> Void = {},
                         term: @escaping @Sendable (_ ended: @escaping @Sendable () async -> Void) async -> Void) async throws {
        // Terms read the store first: none before it is ready.
        while log.phase != .ready {
            if case .failed = log.phase { return }  // the log's own service reports why
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) } } catch { return }
        }
        onStandby()
        // `NodeLease` reports each change once, alternating, so the stream holds one or two at most.
        let (changes, changed) = AsyncStream.makeStream(of: Bool.self)
        let lease = NodeLease(log: log, role: role) { changed.yield($0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { changed.finish() }
                try await lease.run()
            }
            var current: Term?
            for await holding in changes {
                if holding {
                    current = Term(term)
                } else if let ending = current {
                    await ending.end()
                    current = nil
                    onStandby()
                }
            }
            await current?.end()
            try await group.waitForAll()
        }
    }

    /// One stretch of holding the lease: `term` in a task of its own, ended by `end`.
    private struct Term {
        let task: Task<Void, Never>
        let ending: AsyncStream<Void>.Continuation

        init(_ term: @escaping @Sendable (_ ended: @escaping @Sendable () async -> Void) async -> Void) {
            let (ended, ending) = AsyncStream.makeStream(of: Void.self)
            self.ending = ending
            let waitForEnd: @Sendable () async -> Void = {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { for await _ in ended {} }
                    group.addTask { try? await gracefulShutdown() }
                    await group.next()
                    group.cancelAll()
                }
            }
            task = Task { await term(waitForEnd) }
        }

        func end() async {
            ending.finish()
            task.cancel()
            await task.value
        }
    }
}
