import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Subscribes to the routes' topics and turns every message into a committed event.
///
/// The client's network thread hands over the messages of a read burst in slices (`receive`, which
/// passes them to the writer without waiting) and writes their QoS 1 PUBACKs only after `settle`
/// returned true, once the whole burst is committed: a crash before that makes the broker deliver
/// the messages again (DESIGN §5).
final class MQTTBridge: Service, Sendable {
    let runtime: HeraldRuntime
    let router: TopicRouter
    let options: MosquittoOptions
    let filters: [String]
    let filterSelectors: [Selector]
    let sources: SourceSet
    let qos: Int
    let stopping = Atomic<Bool>(false)
    /// Dead letters per topic and failed connects per reason: logged once a minute each.
    let onceAMinute = OncePerMinuteLog()

    init(runtime: HeraldRuntime) throws {
        let config = runtime.config.mqtt
        self.runtime = runtime
        self.router = TopicRouter(runtime.config.routes)
        self.qos = config.qos
        self.sources = runtime.config.sources.makeSourceSet()
        try sources.restore(from: runtime.log)
        var seen = Set<String>()
        // Every route's and source's filter once; topics that discovery configs name are added
        // unless one of these covers them (see `follow`).
        self.filters = (runtime.config.routes.map(\.topic.text) + sources.filters).filter { seen.insert($0).inserted }
        self.filterSelectors = filters.compactMap { try? Selector($0) }
        self.options = try MosquittoOptions(config, clientID: config.clientID)
        self.heartbeatTopic = "herald/heartbeat/" + options.clientID
    }

    func run() async throws {
        runtime.mqttConnected.withLock { $0 = false }
        let handlers = MosquittoHandlers(
            onConnect: { [self] code, sessionPresent in connected(code: code, sessionPresent: sessionPresent) },
            onDisconnect: { [self] code in disconnected(code: code) },
            onConnectFailed: { [self] reason, retryIn in connectFailed(reason: reason, retryIn: retryIn) },
            onMessages: { [self] messages in receive(messages) },
            onBurstEnd: { [self] in settle() },
            onSubscribe: { [self] mid in subscribed(mid) })
        let client = try MosquittoClient(options: options, handlers: handlers)
        // Before start: the connect callback, which subscribes through it, may run at once.
        clientBox.withLock { $0 = client }
        try client.start()
        runtime.logger.info("mqtt bridge started", metadata: ["broker": "\(options.host):\(options.port)", "client_id": "\(options.clientID)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeat(client) }
            try? await gracefulShutdown()
            stopping.store(true, ordering: .sequentiallyConsistent)
            group.cancelAll()
        }
        // Disconnect cleanly: the broker keeps the persistent session and queues for our return.
        client.stop()
        clientBox.withLock { $0 = nil }
        runtime.logger.info("mqtt bridge stopped")
    }

    /// Subscriptions are made from the connect callback, so every reconnect subscribes again.
    let clientBox = Mutex<MosquittoClient?>(nil)

    private func connected(code: Int32, sessionPresent: Bool) {
        guard code == 0 else { return }  // refused: reported by `connectFailed`, once a minute
        if !sessionPresent {
            // The broker kept no session for us, so nothing can be redelivered.
            try? runtime.log.forgetMQTTReceipts()
        }
        possibleRedeliveries.store(sessionPresent ? MQTTDedupe.window : 0, ordering: .relaxed)
        let client = clientBox.withLock { $0 }
        var mids = Set<Int32>()
        liveness.withLock { $0 = Liveness(transportUp: true, responsive: true, lastEcho: Clock.nowMilliseconds()) }
        let subscriptions = filters + [heartbeatTopic] + sources.extraTopics.filter({ !isCovered($0) })
        if let client { forgetOldSubscriptions(keeping: subscriptions, sessionPresent: sessionPresent, client: client) }
        for filter in subscriptions {
            do {
                if let mid = try client?.subscribe(filter, qos: qos) { mids.insert(mid) }
            } catch {
                runtime.logger.error("mqtt subscribe failed", metadata: ["filter": "\(filter)", "error": "\(error)"])
            }
        }
        // Ready only once the broker acknowledged the subscriptions (`subscribed`): before that, a
        // first-time session would not receive what is published.
        pendingSubscriptions.withLock { $0 = mids }
        runtime.logger.notice("mqtt connected", metadata: ["session_present": "\(sessionPresent)"])
        status("connected", "{\"state\":\"connected\",\"broker\":\(JSONText.quoted("\(options.host):\(options.port)")),\"sessionPresent\":\(sessionPresent)}")
    }

    let pendingSubscriptions = Mutex<Set<Int32>>([])

    /// The broker keeps a persistent session's subscriptions: a filter Herald no longer uses (a
    /// source turned off, a route removed) would go on delivering, into $deadletter. So the last
    /// set is kept in the store, and what left it is unsubscribed on connect.
    private func forgetOldSubscriptions(keeping current: [String], sessionPresent: Bool, client: MosquittoClient) {
        let memory = (try? runtime.log.sourceMemory(Self.subscriptionMemory.source))?[Self.subscriptionMemory.name]
        let previous = memory.flatMap { try? JSONText(validating: Array($0.utf8)).arrayElements().compactMap(\.stringValue) } ?? []
        let keep = Set(current)
        for filter in previous where sessionPresent && !keep.contains(filter) {
            try? client.unsubscribe(filter)
            runtime.logger.info("mqtt filter no longer used: unsubscribed", metadata: ["filter": "\(filter)"])
        }
        guard previous != current else { return }
        let text = "[" + current.map(JSONText.quoted).joined(separator: ",") + "]"
        let item = AppendItem(drafts: [], effects: [.remember(source: Self.subscriptionMemory.source, name: Self.subscriptionMemory.name, value: text)])
        if case .failure(let error) = runtime.log.submit([item]).wait()[0] {
            runtime.logger.warning("mqtt subscriptions not recorded", metadata: ["error": "\(error)"])
        }
    }

    static let subscriptionMemory = (source: "$mqtt", name: "subscriptions")
    /// How many of the next messages may still be redeliveries (see `MQTTDedupe.mayBeRedelivery`).
    let possibleRedeliveries = Atomic<Int>(MQTTDedupe.window)

    private func connectFailed(reason: String, retryIn: Int) {
        onceAMinute.warn(runtime.logger, key: "connect: " + reason, "mqtt broker not reachable; retrying",
                           metadata: ["broker": "\(options.host):\(options.port)", "reason": "\(reason)", "retry_in_s": "\(retryIn)"])
    }

    private func subscribed(_ mid: Int32) {
        let allDone = pendingSubscriptions.withLock { pending in
            pending.remove(mid) != nil && pending.isEmpty
        }
        guard allDone else { return }
        runtime.mqttConnected.withLock { $0 = true }
        Gauge(label: "herald_mqtt_connected").record(1)
        runtime.logger.info("mqtt subscriptions acknowledged", metadata: ["filters": "\(filters.joined(separator: " "))"])
    }

    private func disconnected(code: Int32) {
        let wasResponsive = liveness.withLock { liveness in
            defer { liveness.transportUp = false }
            return liveness.responsive
        }
        runtime.mqttConnected.withLock { $0 = false }
        Gauge(label: "herald_mqtt_connected").record(0)
        let reason = code == 0 ? "disconnected by Herald" : MosquittoClient.errorString(code)
        runtime.logger.warning("mqtt disconnected", metadata: ["reason": "\(reason)"])
        // Already reported when the heartbeat went unanswered.
        if wasResponsive { status("disconnected", "{\"state\":\"disconnected\",\"reason\":\(JSONText.quoted(reason))}") }
    }

    // MARK: Heartbeat

    /// libmosquitto notices a silent broker only after two keepalives (a PINGREQ after one, then a
    /// whole keepalive for the answer), and a frozen broker's kernel still acknowledges TCP. So
    /// Herald sends itself a QoS 0 message every quarter keepalive and reports the broker down when
    /// none has come back for a whole keepalive, so a frozen broker is reported within 1.5
    /// keepalives; libmosquitto still does the reconnecting.
    struct Liveness {
        var transportUp = false
        var responsive = true
        var lastEcho: Int64 = 0
    }

    let liveness = Mutex(Liveness())
    /// Compared with every message's topic, so made once.
    let heartbeatTopic: String

    private func heartbeat(_ client: MosquittoClient) async {
        let keepalive = Int64(options.keepaliveSeconds) * 1000
        var lastSent: Int64 = 0
        while !Task.isCancelled {
            do { try await Task.sleep(for: .milliseconds(250)) } catch { return }
            let now = Clock.nowMilliseconds()
            let (up, silentFor) = liveness.withLock { ($0.transportUp, now - $0.lastEcho) }
            guard up else { continue }
            if now - lastSent >= keepalive / 4 {
                try? client.publish(topic: heartbeatTopic, payload: [], qos: 0, retain: false)
                lastSent = now
            }
            guard silentFor > keepalive else { continue }
            let changed = liveness.withLock { liveness in
                defer { liveness.responsive = false }
                return liveness.responsive
            }
            guard changed else { continue }
            runtime.mqttConnected.withLock { $0 = false }
            Gauge(label: "herald_mqtt_connected").record(0)
            let reason = "the broker has not answered for \(silentFor / 1000) s"
            runtime.logger.warning("mqtt broker not responding", metadata: ["silent_ms": "\(silentFor)"])
            status("disconnected", "{\"state\":\"disconnected\",\"reason\":\(JSONText.quoted(reason))}")
        }
    }

    /// Our own heartbeat came back: the broker is alive (again).
    private func echoed() {
        let recovered = liveness.withLock { liveness in
            liveness.lastEcho = Clock.nowMilliseconds()
            defer { liveness.responsive = true }
            return liveness.transportUp && !liveness.responsive
        }
        guard recovered else { return }
        runtime.mqttConnected.withLock { $0 = true }
        Gauge(label: "herald_mqtt_connected").record(1)
        status("connected", "{\"state\":\"connected\",\"reason\":\"the broker answers again\"}")
    }

    private func status(_ type: String, _ data: String) {
        let draft = EventDraft(channel: "$status", type: type, key: "mqtt", data: data)
        if case .failure(let error) = runtime.log.appendBlocking([draft], dedupe: nil) {
            runtime.logger.debug("broker status not stored", metadata: ["error": "\(error)"])
        }
    }

    /// A slice of a read burst, handed to the writer and not yet settled.
    struct InFlight {
        var messages: [MQTTMessage]
        var requests: [AppendItem]
        var appends: PendingAppends
    }

    /// Only the network thread touches it; the Mutex is for the compiler, never contended.
    let inFlight = Mutex<[InFlight]>([])

    /// Runs on the client's network thread with a slice of a read burst: drafts the events and
    /// hands them to the writer without waiting, so the writer stores it while the thread reads on.
    private func receive(_ messages: [MQTTMessage]) {
        var requests: [AppendItem] = []
        var stored: [MQTTMessage] = []
        requests.reserveCapacity(messages.count)
        stored.reserveCapacity(messages.count)
        for message in messages {
            if message.topic.hasSameBytes(as: heartbeatTopic) {
                echoed()
                continue
            }
            TestHooks.crashIfRequested(.beforeCommit, topic: message.topic)
            var dedupe = MQTTDedupe(message: message)
            dedupe.mayBeRedelivery = possibleRedeliveries.load(ordering: .relaxed) > 0
            if dedupe.mayBeRedelivery { possibleRedeliveries.subtract(1, ordering: .relaxed) }
            var item = item(for: message)
            item.dedupe = dedupe
            requests.append(item)
            stored.append(message)
        }
        let slice = InFlight(messages: stored, requests: requests, appends: runtime.log.submit(requests))
        inFlight.withLock { $0.append(slice) }
    }

    /// The burst is read: returns once every slice is stored, which lets the PUBACKs go; false
    /// when something could not be stored before Herald began to stop (nothing is acknowledged).
    private func settle() -> Bool {
        var allStored = true
        for slice in inFlight.withLock({ inFlight in defer { inFlight = [] }; return inFlight }) {
            for (index, outcome) in slice.appends.wait().enumerated() {
                switch outcome {
                case .success(.stored): BridgeMetrics.messages.increment()
                case .success(.duplicate): BridgeMetrics.duplicates.increment()
                case .failure(let error):
                    if allStored { allStored = retry(slice.messages[index], request: slice.requests[index], after: error) }
                }
            }
            for message in slice.messages { TestHooks.crashIfRequested(.afterCommit, topic: message.topic) }
        }
        return allStored
    }

    /// The store refused a message (disk full, say): try again until it takes it, keeping the
    /// message unacknowledged meanwhile so the broker keeps it for us. Messages after it in the
    /// same burst may already be stored, so after a failure ids can differ from arrival order.
    /// Gives up only when Herald is stopping (false): the message then stays unacknowledged.
    private func retry(_ message: MQTTMessage, request: AppendItem, after error: any Error) -> Bool {
        var error = error
        var delay: UInt32 = 50_000
        while true {
            runtime.logger.error("mqtt message not stored; retrying", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
            BridgeMetrics.storeFailures.increment()
            if stopping.load(ordering: .sequentiallyConsistent) { return false }
            usleep(delay)
            delay = min(delay * 2, 5_000_000)
            switch runtime.log.submit([request]).wait()[0] {
            case .success(.stored):
                BridgeMetrics.messages.increment()
                return true
            case .success(.duplicate):
                BridgeMetrics.duplicates.increment()
                return true
            case .failure(let next): error = next
            }
        }
    }

    /// What one message becomes: a user route's event, a source's events and device state, or a
    /// dead letter. User routes win over sources.
    func item(for message: MQTTMessage) -> AppendItem {
        let limit = runtime.config.mqtt.maxPayloadBytes
        let route = routed(message.topic)
        let source = route.source(qos: message.qos, retain: message.retain)
        // A description (Zigbee2MQTT's bridge/devices of a large network) is not stored as it
        // came, so it may be larger than a payload that is.
        if message.payload.count > limit,
           message.payload.count > SourceLimits.descriptionBytes || route.match != nil || !sources.isMetadata(message.topic) {
            return AppendItem(drafts: [deadLetter(message, reason: "payload of \(message.payload.count) bytes is over the limit of \(limit)",
                                                  type: "oversize", includePayload: false, source: source)])
        }
        if route.match == nil, let outcome = sources.interpret(SourceMessage(topic: message.topic, payload: message.payload, retain: message.retain)) {
            return item(for: outcome, message: message, source: source, limit: limit)
        }
        return AppendItem(drafts: drafts(for: message, route: route, source: source))
    }

    private func item(for outcome: SourceOutcome, message: MQTTMessage, source: String, limit: Int) -> AppendItem {
        if let problem = outcome.problem {
            return AppendItem(drafts: [deadLetter(message, reason: problem, type: "undecodable",
                                                  includePayload: message.payload.count <= limit, source: source)])
        }
        for warning in outcome.warnings {
            onceAMinute.warn(runtime.logger, key: "source: " + message.topic, "source message not kept whole",
                             metadata: ["topic": "\(message.topic)", "source": "\(outcome.source)", "detail": "\(warning)"])
        }
        follow(outcome.subscribe, unfollow: outcome.unsubscribe)
        var drafts = outcome.drafts
        for index in drafts.indices { drafts[index].source = source }
        return AppendItem(drafts: drafts, effects: outcome.effects)
    }

    /// Subscribes to the topics a discovery config names (and drops those no config names any
    /// more), unless a fixed filter already covers them. Runs on the network thread.
    private func follow(_ topics: [String], unfollow: [String]) {
        guard !topics.isEmpty || !unfollow.isEmpty, let client = clientBox.withLock({ $0 }) else { return }
        // Unsubscribing first: a topic dropped and taken again in one message stays followed.
        for topic in unfollow where !isCovered(topic) && !topics.contains(topic) { try? client.unsubscribe(topic) }
        for topic in topics where !isCovered(topic) {
            do { _ = try client.subscribe(topic, qos: qos) } catch {
                runtime.logger.error("mqtt subscribe failed", metadata: ["filter": "\(topic)", "error": "\(error)"])
            }
        }
    }

    private func isCovered(_ topic: String) -> Bool {
        var captures: [Substring] = []
        return filterSelectors.contains { $0.match(topic, captures: &captures) }
    }

    func drafts(for message: MQTTMessage, route: RoutedTopic, source: String) -> [EventDraft] {
        guard let match = route.match else {
            return [deadLetter(message, reason: "no route or source takes the topic", type: "unrouted", includePayload: true, source: source)]
        }
        if let problem = route.keyProblem {
            return [deadLetter(message, reason: "the key taken from the topic is refused: \(problem)", type: "invalid",
                               includePayload: true, source: source)]
        }
        if let mapped = match.mapped {
            switch mapped.drafts(for: match, payload: message.payload, time: Clock.nowMilliseconds()) {
            case .success(var drafts):
                for index in drafts.indices { drafts[index].source = source }
                return drafts
            case .failure(let problem):
                return [deadLetter(message, reason: problem.reason, type: "unmapped", includePayload: true, source: source)]
            }
        }
        return [EventDraft(channel: match.channel, type: match.type, key: match.key,
                           data: PayloadNormalizer.json(for: message.payload), source: source)]
    }

    /// What routing says about a topic. Devices publish under the same topics again and again, so
    /// the answers are kept (up to `RouteCache.limit` topics, then forgotten all at once).
    struct RoutedTopic {
        var match: TopicRouter.Match?
        /// Why the key the route makes of the topic is refused, if it is.
        var keyProblem: String?
        /// The event's `source` for QoS 0, 1 and 2, not retained then retained: the same few
        /// strings for every message on the topic.
        var sources: [String]

        init(topic: String, match: TopicRouter.Match?, keyProblem: String?) {
            self.match = match
            self.keyProblem = keyProblem
            let quoted = JSONText.quoted(topic)
            sources = (0...2).flatMap { qos in
                [false, true].map { retain in "{\"mqtt\":{\"topic\":\(quoted),\"qos\":\(qos),\"retain\":\(retain)}}" }
            }
        }

        func source(qos: Int, retain: Bool) -> String {
            sources[min(max(qos, 0), 2) * 2 + (retain ? 1 : 0)]
        }
    }

    enum RouteCache { static let limit = 4_096 }
    enum SourceLimits { static let descriptionBytes = 8 << 20 }
    /// By the topic's bytes: two spellings of one text are two topics to MQTT.
    let routeCache = Mutex<[ByteExactString: RoutedTopic]>([:])

    private func routed(_ topic: String) -> RoutedTopic {
        let cacheKey = ByteExactString(topic)
        if let known = routeCache.withLock({ $0[cacheKey] }) { return known }
        let match = router.route(topic)
        var keyProblem: String?
        if let key = match?.key {
            do { try Names.validateKey(key) } catch { keyProblem = error.reason }
        }
        let routed = RoutedTopic(topic: topic, match: match, keyProblem: keyProblem)
        routeCache.withLock { cache in
            if cache.count >= RouteCache.limit { cache.removeAll(keepingCapacity: true) }
            cache[cacheKey] = routed
        }
        return routed
    }

    private func deadLetter(_ message: MQTTMessage, reason: String, type: String, includePayload: Bool, source: String) -> EventDraft {
        Counter(label: "herald_deadletter_total", dimensions: [("reason", type)]).increment()
        onceAMinute.warn(runtime.logger, key: message.topic, "mqtt message sent to $deadletter",
                           metadata: ["topic": "\(message.topic)", "reason": "\(reason)", "size": "\(message.payload.count)"])
        var data = "{\"topic\":\(JSONText.quoted(message.topic)),\"size\":\(message.payload.count),\"reason\":\(JSONText.quoted(reason))"
        if includePayload { data += ",\"payload\":" + PayloadNormalizer.json(for: message.payload) }
        data += "}"
        return EventDraft(channel: "$deadletter", type: type, key: nil, data: data, source: source)
    }
}

/// Made once: a metric looked up by label costs a lock and a hash per message.
enum BridgeMetrics {
    static let messages = Counter(label: "herald_mqtt_messages_total")
    static let duplicates = Counter(label: "herald_mqtt_duplicates_total")
    static let storeFailures = Counter(label: "herald_mqtt_store_failures_total")
}


/// Crash points for the durability tests (`HERALD_TEST_CRASH_BEFORE_COMMIT=topic`, `…_AFTER_COMMIT`).
enum TestHooks {
    enum Point: String {
        case beforeCommit = "HERALD_TEST_CRASH_BEFORE_COMMIT"
        case afterCommit = "HERALD_TEST_CRASH_AFTER_COMMIT"
    }

    static let before = ProcessInfo.processInfo.environment[Point.beforeCommit.rawValue]
    static let after = ProcessInfo.processInfo.environment[Point.afterCommit.rawValue]

    static func crashIfRequested(_ point: Point, topic: String) {
        let wanted = point == .beforeCommit ? before : after
        if let wanted, wanted == topic { _exit(point == .beforeCommit ? 86 : 87) }
    }
}
