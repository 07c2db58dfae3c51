import Logging
import PostgresNIO

/// The MQTT bookkeeping of one PostgreSQL append transaction: the same rules as `MQTTLedger`
/// on SQLite (see `MQTTDedupe`), in few round trips. The recent receipts are read only when a
/// message of the batch may be a redelivery (the first ones after a session resumed, which is
/// also when a node took the session over from one that died), and the last payloads only for
/// retained messages. Read and written under the append lock, so every node sees the receipts
/// of every other.
struct PostgresMQTTLedger {
    private struct Receipt: Hashable {
        var mid: Int32
        var topic: String
        var digest: String
    }

    private var recent: Set<Receipt> = []
    private var lastPayloads: [String: String] = [:]
    private var newReceipts: [Receipt] = []
    private var storedPayloads: [String: String] = [:]

    static func load(for messages: [MQTTDedupe], in connection: PostgresConnection, logger: Logger) async throws -> Self {
        var ledger = Self()
        if messages.contains(where: { $0.mid != 0 && $0.mayBeRedelivery }) {
            let rows = try await connection.query("""
                SELECT mid, topic, digest FROM mqtt_receipts ORDER BY seq DESC LIMIT \(MQTTDedupe.window)
                """, logger: logger)
            for try await (mid, topic, digest) in rows.decode((Int32, String, String).self) {
                ledger.recent.insert(Receipt(mid: mid, topic: topic, digest: digest))
            }
        }
        let retainedTopics = Array(Set(messages.filter(\.retained).map(\.topic)))
        if !retainedTopics.isEmpty {
            let rows = try await connection.query("""
                SELECT topic, digest FROM mqtt_last_payload WHERE topic = ANY(\(retainedTopics)::text[])
                """, logger: logger)
            for try await (topic, digest) in rows.decode((String, String).self) { ledger.lastPayloads[topic] = digest }
        }
        return ledger
    }

    func isDuplicate(_ message: MQTTDedupe) -> Bool {
        if message.retained, lastPayloads[message.topic] == message.digest { return true }
        guard message.mid != 0, message.mayBeRedelivery else { return false }
        return recent.contains(Receipt(mid: message.mid, topic: message.topic, digest: message.digest))
    }

    /// The message is stored in this transaction: its receipt (QoS 1 and 2) and its payload as
    /// the topic's last, also for the messages after it in the same batch.
    mutating func stored(_ message: MQTTDedupe) {
        let receipt = Receipt(mid: message.mid, topic: message.topic, digest: message.digest)
        if message.mid != 0 {
            newReceipts.append(receipt)
            recent.insert(receipt)
        }
        lastPayloads[message.topic] = message.digest
        storedPayloads[message.topic] = message.digest
    }

    /// Before the commit: the receipts (keeping the newest window) and the last payloads.
    func write(in connection: PostgresConnection, logger: Logger) async throws {
        if !newReceipts.isEmpty {
            try await connection.query("""
                WITH added AS (
                    INSERT INTO mqtt_receipts(mid, topic, digest)
                    SELECT * FROM unnest(\(newReceipts.map(\.mid))::int4[], \(newReceipts.map(\.topic))::text[], \(newReceipts.map(\.digest))::text[])
                    RETURNING seq
                )
                DELETE FROM mqtt_receipts WHERE seq <= (SELECT max(seq) FROM added) - \(MQTTDedupe.window)
                """, logger: logger)
        }
        if !storedPayloads.isEmpty {
            try await connection.query("""
                INSERT INTO mqtt_last_payload(topic, digest)
                SELECT * FROM unnest(\(Array(storedPayloads.keys))::text[], \(Array(storedPayloads.values))::text[])
                ON CONFLICT (topic) DO UPDATE SET digest = excluded.digest
                """, logger: logger)
        }
    }
}
