import Logging

/// `herald notify test NAME`: one made-up alert, sent to one target now, outside the outbox, so
/// its set-up (URL, secret, broker, mail server, subscriptions) can be checked before a real alert.
public enum NotifyTest {
    public struct Outcome: Sendable {
        public var sent: Bool
        public var detail: String
    }

    /// `patience`: how long a PostgreSQL store may take to be reached (a connect alone may take 20 s).
    public static func send(target name: String, config: HeraldConfig, logger: Logger,
                            patience: Duration = .seconds(30)) async throws -> Outcome {
        guard let target = config.notify.first(where: { $0.name == name }) else {
            let names = config.notify.map(\.name)
            throw HeraldServer.StartupError(description: "no notify target named '\(name)'"
                                            + (names.isEmpty ? " (the configuration has none)" : " (known: \(names.joined(separator: ", ")))"))
        }
        let runtime = try HeraldRuntime(config: config, logger: logger, metrics: HeraldServer.metrics)
        return try await runtime.withStoreRunning(patience: patience) {
            let sender = try runtime.notify.sender(for: target, runtime: runtime)
            await sender.start()
            let outcome = try await send(to: target, through: sender, runtime: runtime)
            await sender.stop()
            return outcome
        }
    }

    private static func send(to target: NotifyTarget, through sender: any NotifySender, runtime: HeraldRuntime) async throws -> Outcome {
        let name = target.name
        let now = Clock.nowMilliseconds()
        let data = "{\"alertId\":\"herald-test\",\"rule\":\"herald-test\",\"severity\":\"info\""
            + ",\"message\":\(JSONText.quoted("A test notification from Herald: target \(name) works."))"
            + ",\"value\":null,\"threshold\":null,\"state\":\"raised\",\"sensorKey\":null,\"ackedAt\":null}"
        let event = StoredEvent(id: 0, draft: EventDraft(channel: runtime.semantics.alertsChannel, type: "raised", key: "herald-test", time: now, data: data,
                                                         source: "{\"notify\":{\"test\":true}}"))
        guard let notice = Notice(event, alertChannels: [event.channel]) else {
            throw HeraldServer.StartupError(description: "the test alert is not an alert")
        }
        let lanes = target.kind.isWebPush ? try await runtime.notifyStore.pushSubscriptionEndpoints() : [""]
        guard !lanes.isEmpty else { return Outcome(sent: false, detail: "no browser has subscribed yet (the dashboard's Notify me switch)") }
        var details: [String] = []
        var allSent = true
        for lane in lanes {
            let delivery = NoticeDelivery(envelope: event.envelope, event: event, notice: notice, lane: lane, idempotencyKey: "test-\(now)")
            // A new connection (MQTT) takes a moment: connection errors are tried again for a while.
            let deadline = ContinuousClock.now + .seconds(max(target.timeoutSeconds, 10))
            var result = await sender.send(delivery)
            while case .retry = result, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
                result = await sender.send(delivery)
            }
            if result != .sent { allSent = false }
            details.append((lane.isEmpty ? "" : lane + ": ") + describe(result))
        }
        return Outcome(sent: allSent, detail: details.joined(separator: "\n"))
    }

    static func describe(_ result: DeliveryResult) -> String {
        switch result {
        case .sent: "sent"
        case .retry(let reason, _): "not sent (would be retried): \(reason)"
        case .permanent(let reason): "refused: \(reason)"
        case .recipientGone(let reason): "the subscription is gone: \(reason)"
        }
    }
}
