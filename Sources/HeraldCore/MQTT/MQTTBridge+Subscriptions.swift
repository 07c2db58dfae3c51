extension MQTTBridge {
    /// Made from the connect callback, so every reconnect subscribes again. Ready only once the
    /// broker acknowledged them all (`subscribed`): before that, a first-time session would not
    /// receive what is published.
    func subscribe(sessionPresent: Bool) {
        guard let client = clientBox.withLock({ $0 }) else { return }
        let subscriptions = filters + [heartbeatTopic] + drafter.sources.extraTopics.filter { !isCovered($0) }
        forgetOldSubscriptions(keeping: subscriptions, sessionPresent: sessionPresent, client: client)
        var mids = Set<Int32>()
        for filter in subscriptions {
            do {
                mids.insert(try client.subscribe(filter, qos: qos))
            } catch {
                runtime.logger.error("mqtt subscribe failed", metadata: ["filter": "\(filter)", "error": "\(error)"])
            }
        }
        pendingSubscriptions.withLock { $0 = mids }
    }

    static let subscriptionMemory = (source: "$mqtt", name: "subscriptions")

    /// The broker keeps a persistent session's subscriptions: a filter Herald no longer uses (a
    /// source turned off, a route removed) would go on delivering, into $deadletter. So the last
    /// set is kept in the store, and what left it is unsubscribed on connect.
    private func forgetOldSubscriptions(keeping current: [String], sessionPresent: Bool, client: MosquittoClient) {
        let memory = (try? log.sourceMemory(Self.subscriptionMemory.source))?[Self.subscriptionMemory.name]
        let previous = memory.flatMap { try? JSONText(validating: Array($0.utf8)).arrayElements().compactMap(\.stringValue) } ?? []
        let keep = Set(current)
        for filter in previous where sessionPresent && !keep.contains(filter) {
            try? client.unsubscribe(filter)
            runtime.logger.info("mqtt filter no longer used: unsubscribed", metadata: ["filter": "\(filter)"])
        }
        guard previous != current else { return }
        let text = "[" + current.map(JSONText.quoted).joined(separator: ",") + "]"
        let item = AppendItem(drafts: [], effects: [.remember(source: Self.subscriptionMemory.source, name: Self.subscriptionMemory.name, value: text)])
        // Waiting is fine here: this runs on the network thread, before any message is read.
        if case .failure(let error) = log.submit([item]).wait()[0] {
            runtime.logger.warning("mqtt subscriptions not recorded", metadata: ["error": "\(error)"])
        }
    }

    /// Subscribes to the topics a discovery config names (and drops those no config names any
    /// more), unless a fixed filter already covers them. Runs on the network thread.
    func follow(_ topics: [String], unfollow: [String]) {
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
}
