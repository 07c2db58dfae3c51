import Logging
import ServiceLifecycle

/// The `notify:` targets of one runtime: a delivery service each, woken by the writer's commits.
public final class NotifyCenter: Sendable {
    let targets: [NotifyTarget]
    let routing: NotifyRouting
    private let wakes: [String: NotifyWake]
    /// Web Push's key pair, from the store.
    let vapidKeys: VAPIDKeys

    init(targets: [NotifyTarget], routing: NotifyRouting) {
        self.targets = targets
        self.routing = routing
        vapidKeys = VAPIDKeys()
        wakes = Dictionary(uniqueKeysWithValues: targets.map { ($0.name, NotifyWake()) })
    }

    /// From the writer, after each commit: wakes the targets when anything stored may be owed.
    func committed(_ events: [StoredEvent]) {
        guard !wakes.isEmpty, events.contains(where: { Notice.mayComeFrom($0.type) }) else { return }
        for wake in wakes.values { wake.signal() }
    }

    var webPushTarget: NotifyTarget? { targets.first { $0.kind.isWebPush } }

    /// One delivery service per target, and the start-up pass that gives up the rows of targets
    /// no longer configured (also when none is left). New ones each time: on PostgreSQL they run
    /// for each term of the duties lease (`LeasedDuties`).
    func services(runtime: HeraldRuntime) throws -> [any Service] {
        let log = runtime.notifyStore
        var services: [any Service] = [OrphanSweep(log: log, targets: Set(targets.map(\.name)), logger: runtime.logger)]
        for target in targets {
            services.append(NotifyDelivery(target: target, sender: try sender(for: target, runtime: runtime), log: log,
                                           wake: wakes[target.name]!, alertChannels: routing.alertChannels, logger: runtime.logger))
        }
        return services
    }

    func sender(for target: NotifyTarget, runtime: HeraldRuntime) throws -> any NotifySender {
        let post = HTTPPost(timeout: .seconds(target.timeoutSeconds))
        switch target.kind {
        case .webhook(let url, let secret):
            return WebhookSender(url: url, secret: secret, post: post)
        case .ntfy(let url, let token):
            return NtfySender(url: url, token: token, post: post)
        case .mqtt(let mqtt):
            let config = runtime.config.mqtt
            return try MQTTAlertSender(target: mqtt, rules: runtime.config.alertRules.map(\.name).filter { rule in
                target.filter.rules?.contains { $0.matches(rule) } ?? true
            }, options: MosquittoOptions(config, clientID: config.clientID + "-notify"), timeout: .seconds(target.timeoutSeconds),
               log: runtime.notifyStore, logger: runtime.logger)
        case .email(let email):
            do {
                let server = try email.server(timeout: .seconds(target.timeoutSeconds))
                return EmailSender(client: SMTPClient(server: server), target: target.name, from: email.from, to: email.to)
            } catch {
                throw HeraldServer.StartupError(description: "notify target '\(target.name)': \(error.description)")
            }
        case .webpush(let subject):
            // The push service keeps a message for an offline browser as long as it is worth retrying.
            return WebPushSender(subject: subject, keys: vapidKeys, log: runtime.notifyStore, post: post,
                                 ttlSeconds: Int(min(target.maxAgeSeconds, 28 * 86_400)))
        }
    }
}

/// Rows owed to targets that are no longer configured go to `$deadletter` once, at start.
struct OrphanSweep: Service {
    let log: any NotifyStore
    let targets: Set<String>
    let logger: Logger

    func run() async throws {
        for item in try await log.outboxOrphans(keeping: targets) {
            _ = try await log.append([NotifyDeadLetter.draft(item, reason: "the target is no longer configured", targetKind: nil)])
            try await log.outboxRemove(item)
            logger.warning("notification owed to a target no longer configured, given up to $deadletter",
                           metadata: ["target": "\(item.target)", "event": "\(item.eventId)"])
        }
        try? await gracefulShutdown()
    }
}
