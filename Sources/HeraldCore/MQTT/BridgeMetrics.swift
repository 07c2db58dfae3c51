import Metrics

/// Made once: a metric looked up by label costs a lock and a hash per message.
enum BridgeMetrics {
    static let messages = Counter(label: "herald_mqtt_messages_total")
    static let duplicates = Counter(label: "herald_mqtt_duplicates_total")
    static let storeFailures = Counter(label: "herald_mqtt_store_failures_total")
    static let connected = Gauge(label: "herald_mqtt_connected")
}
