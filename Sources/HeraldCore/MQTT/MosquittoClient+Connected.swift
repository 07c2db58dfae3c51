import Synchronization

extension MosquittoClient {
    /// A started client whose connection the broker accepted, for the short-lived clients
    /// (`herald demo`, `herald discover`): before that, libmosquitto refuses a publish and a
    /// subscription is not made. Throws when the broker does not accept within `timeout`.
    static func connected(options: MosquittoOptions, handlers: MosquittoHandlers, timeout: Duration) async throws -> MosquittoClient {
        let accepted = Atomic<Bool>(false)
        var handlers = handlers
        handlers.onConnect = { [onConnect = handlers.onConnect] code, sessionPresent in
            if code == 0 { accepted.store(true, ordering: .sequentiallyConsistent) }
            onConnect(code, sessionPresent)
        }
        let client = try MosquittoClient(options: options, handlers: handlers)
        try client.start()
        let deadline = ContinuousClock.now + timeout
        while !accepted.load(ordering: .sequentiallyConsistent) {
            guard ContinuousClock.now < deadline else {
                client.stop()
                throw NotConnected(description: "no answer from mqtt://\(options.host):\(options.port) within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return client
    }

    struct NotConnected: Error, CustomStringConvertible {
        var description: String
    }
}
