import Foundation
import Logging
import Synchronization

/// `mqtt:` — each alert's state, retained at `<topic>/<rule>/<key>` and updated when it changes,
/// so Home Assistant and Node-RED can react to it; `<topic>/<rule>` says whether any alert of the
/// rule is raised. With `homeassistant_discovery`, each rule is announced as a `binary_sensor` of
/// device class `problem` on that topic.
///
/// It has a connection of its own (client id `<mqtt.client_id>-notify`), so the bridge's session
/// and its PUBACK order stay as they are. A delivery counts as sent once the broker's PUBACK came.
final class MQTTAlertSender: NotifySender, Sendable {
    let target: NotifyTarget.MQTTTarget
    let rules: [String]
    let timeout: Duration
    let log: any NotifyStore
    let logger: Logger
    private let acks = PublishAcks()
    private let client: MosquittoClient

    init(target: NotifyTarget.MQTTTarget, rules: [String], options: MosquittoOptions, timeout: Duration,
         log: any NotifyStore, logger: Logger) throws {
        self.target = target
        self.rules = rules
        self.timeout = timeout
        self.log = log
        self.logger = logger
        var options = options
        options.cleanSession = true  // what was in flight at a restart is sent again from the outbox
        let acks = self.acks
        // One pending announcement at most: connects while one waits change nothing.
        let (connects, connected) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        var handlers = MosquittoHandlers()
        handlers.onPublish = { mid in acks.arrived(mid) }
        handlers.onConnect = { code, _ in if code == 0 { connected.yield() } }
        handlers.onDisconnect = { _ in acks.failAll() }
        client = try MosquittoClient(options: options, handlers: handlers)
        self.connects = connects
        self.connected = connected
    }

    /// Each connect, for the discovery announcements (and a failed announcement, to try again).
    private let connects: AsyncStream<Void>
    private let connected: AsyncStream<Void>.Continuation
    private let announcing = Mutex<Task<Void, Never>?>(nil)

    func start() async {
        do { try client.start() } catch { logger.error("mqtt notify connection not started", metadata: ["error": "\(error)"]) }
        if target.homeAssistantDiscovery {
            // Announced after every connect (retained, so once would do, unless the broker lost them).
            let task = Task { [self] in
                for await _ in connects { await announce() }
            }
            announcing.withLock { $0 = task }
        }
    }

    func stop() async {
        connected.finish()
        announcing.withLock { $0?.cancel() }
        // `stop` waits for the network thread to end: on a thread of its own, not the pool's.
        let client = client
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread { client.stop(); done.resume() }.start()
        }
    }

    func send(_ delivery: NoticeDelivery) async -> DeliveryResult {
        let notice = delivery.notice
        let data = try? JSONText(validating: Array(delivery.event.draft.data.utf8))
        let problem = notice.transition == .cleared ? "OFF" : "ON"
        var state = "{\"state\":\(JSONText.quoted(notice.transition.rawValue)),\"problem\":\"\(problem)\""
        state += ",\"severity\":\(JSONText.quoted(notice.severity.rawValue)),\"message\":\(JSONText.quoted(notice.message))"
        state += ",\"rule\":" + (notice.rule.map(JSONText.quoted) ?? "null") + ",\"key\":" + (notice.key.map(JSONText.quoted) ?? "null")
        for field in ["value", "threshold"] { state += ",\"\(field)\":" + (data?.value(at: field)?.singleLine ?? "null") }
        state += ",\"eventId\":\(delivery.event.id),\"time\":\(JSONText.quoted(Clock.iso8601(milliseconds: delivery.event.draft.time)))}"
        let group = Self.segment(notice)
        let result = await publish(topic: target.topic + "/" + group + "/" + (notice.key ?? "_"), payload: state)
        guard result == .sent, let rule = notice.rule else { return result }
        return await publishRuleState(rule)
    }

    /// `<topic>/<rule>`: ON while any alert of the rule is raised, with their keys.
    private func publishRuleState(_ rule: String) async -> DeliveryResult {
        let raised: [String]
        do {
            raised = try await log.alerts(all: false).filter { $0.rule == rule && $0.state == "raised" }.compactMap(\.key).sorted()
        } catch {
            return .retry(reason: "alerts unreadable: \(error)", after: nil)
        }
        let payload = "{\"problem\":\"\(raised.isEmpty ? "OFF" : "ON")\",\"raised\":[" + raised.map(JSONText.quoted).joined(separator: ",") + "]}"
        return await publish(topic: target.topic + "/" + rule, payload: payload)
    }

    /// The discovery config of each rule, retained at `<prefix>/binary_sensor/herald_<rule>/config`.
    private func announce() async {
        for rule in rules {
            let id = "herald_" + Self.objectID(rule)
            let config = "{\"name\":\(JSONText.quoted(rule)),\"unique_id\":\(JSONText.quoted(id)),\"object_id\":\(JSONText.quoted(id))"
                + ",\"device_class\":\"problem\",\"state_topic\":\(JSONText.quoted(target.topic + "/" + rule))"
                + ",\"value_template\":\"{{ value_json.problem }}\",\"payload_on\":\"ON\",\"payload_off\":\"OFF\""
                + ",\"json_attributes_topic\":\(JSONText.quoted(target.topic + "/" + rule))"
                + ",\"device\":{\"identifiers\":[\"herald\"],\"name\":\"Herald\",\"manufacturer\":\"Herald\",\"model\":\"MQTT to SSE relay\"}}"
            let result = await publish(topic: target.discoveryPrefix + "/binary_sensor/" + id + "/config", payload: config)
            if result != .sent {
                logger.warning("home assistant discovery not published", metadata: ["rule": "\(rule)", "result": "\(result)"])
                try? await Task.sleep(for: .seconds(1))  // then again, unless a connect comes first
                connected.yield()
                return
            }
            _ = await publishRuleState(rule)
        }
    }

    private func publish(topic: String, payload: String) async -> DeliveryResult {
        let mid: Int32
        do {
            mid = try client.publish(topic: topic, payload: Array(payload.utf8), qos: 1, retain: true)
        } catch {
            return .retry(reason: "broker not reachable: \(error)", after: nil)
        }
        return await acks.wait(for: mid, timeout: timeout) ? .sent : .retry(reason: "no PUBACK within \(timeout)", after: nil)
    }

    /// The topic level after `topic`: the rule, or what kind of notice it is when no rule made it.
    static func segment(_ notice: Notice) -> String {
        if let rule = notice.rule { return rule }
        switch notice.transition {
        case .stale, .offline: return notice.transition.rawValue
        default: return "device"
        }
    }

    /// Home Assistant's object ids are lowercase letters, digits and `_`.
    static func objectID(_ name: String) -> String {
        String(name.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }
}

/// PUBACKs by packet id, for the publisher waiting on each; one that comes before its waiter is kept.
private final class PublishAcks: Sendable {
    private struct State {
        var waiters: [Int32: CheckedContinuation<Bool, Never>] = [:]
        var early: Set<Int32> = []
        /// Timed out before their waiter was even registered.
        var expired: Set<Int32> = []
    }

    private let state = Mutex(State())

    func arrived(_ mid: Int32) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard let waiter = state.waiters.removeValue(forKey: mid) else {
                if state.early.count < 10_000 { state.early.insert(mid) }
                return nil
            }
            return waiter
        }
        waiter?.resume(returning: true)
    }

    /// The connection dropped: what was in flight is sent again from the outbox.
    func failAll() {
        let waiters = state.withLock { state in
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }

    func wait(for mid: Int32, timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let answer = self.state.withLock { state -> Bool? in
                        if state.early.remove(mid) != nil { return true }
                        if state.expired.remove(mid) != nil { return false }
                        state.waiters[mid] = continuation
                        return nil
                    }
                    if let answer { continuation.resume(returning: answer) }
                }
            }
            group.addTask {
                do { try await Task.sleep(for: timeout) } catch { return false }  // the PUBACK came
                let waiter = self.state.withLock { state -> CheckedContinuation<Bool, Never>? in
                    guard let waiter = state.waiters.removeValue(forKey: mid) else {
                        if state.expired.count < 10_000 { state.expired.insert(mid) }
                        return nil
                    }
                    return waiter
                }
                waiter?.resume(returning: false)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
