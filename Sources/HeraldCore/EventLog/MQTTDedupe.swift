import GRDB

/// What the writer needs to recognise an MQTT message it has stored before (DESIGN §5).
///
/// - Redelivery: Herald died after the commit but before libmosquitto sent the PUBACK, so the
///   broker sends the message again on the next connection, with the same packet id. Those are
///   the messages that were in flight at the end of the last connection, i.e. among the most
///   recent receipts; only those are compared, because packet ids wrap after 65,535 and a quiet
///   sensor may well send the same payload under a recycled id much later.
/// - Retained: a broker sends retained messages again on every subscribe; one equal to the last
///   payload stored for its topic is not stored again.
struct MQTTDedupe: Sendable {
    var mid: Int32
    var topic: String
    var digest: String
    var retained: Bool
    /// Whether this message can be a redelivery at all: only the first messages of a connection
    /// that resumed a session can (the broker resends its unacknowledged ones first, MQTT 3.1.1
    /// §4.4), so later ones skip the lookup. Their receipts are still recorded.
    var mayBeRedelivery = true

    /// Receipts kept and compared: comfortably above a broker's in-flight window (mosquitto: 20).
    static let window = 1_000

    init(message: MQTTMessage) {
        self.mid = message.mid
        self.topic = message.topic
        self.digest = Self.digest(message.payload)
        self.retained = message.retain
    }

    /// FNV-1a 64 over the payload, plus its length; stable across runs, unlike `Hasher`.
    static func digest(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        // As `String(hash, radix: 16) + ":" + String(bytes.count)` (stored receipts hold that
        // form), written into one allocation: this runs for every message.
        return String(unsafeUninitializedCapacity: 16 + 1 + 20) { buffer in
            var used = 0
            var shift = max(0, (63 - hash.leadingZeroBitCount) / 4 * 4)
            while shift >= 0 {
                let digit = UInt8((hash >> UInt64(shift)) & 0xf)
                buffer[used] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
                used += 1
                shift -= 4
            }
            buffer[used] = UInt8(ascii: ":")
            used += 1
            for byte in String(bytes.count).utf8 {  // a small string: no allocation
                buffer[used] = byte
                used += 1
            }
            return used
        }
    }

    /// A new session (the broker kept nothing for us) cannot redeliver anything.
    static func forgetReceipts(in db: Database) throws {
        try db.execute(sql: "DELETE FROM mqtt_receipts")
    }
}

/// The MQTT bookkeeping of one write transaction. A receipt is inserted with each message; the
/// last payload per topic is kept here and written once, just before the commit, because a burst
/// is mostly many messages on few topics and only the last of each needs a row.
struct MQTTLedger {
    private let db: Database
    private let receipts: RawStatement
    /// Digests of messages stored in this transaction, by topic (its bytes); the newest wins.
    private var lastPayloads: [ByteExactString: String] = [:]

    init(db: Database) throws {
        self.db = db
        receipts = RawStatement(statement: try db.cachedStatement(sql: "INSERT INTO mqtt_receipts(mid, topic, digest) VALUES (?, ?, ?)"), db: db)
    }

    func isDuplicate(_ message: MQTTDedupe) throws -> Bool {
        if message.retained {
            let last = try lastPayloads[ByteExactString(message.topic)] ?? String.fetchOne(
                db.cachedStatement(sql: "SELECT digest FROM mqtt_last_payload WHERE topic = ?"), arguments: [message.topic])
            if last == message.digest { return true }
        }
        // QoS 0 has no packet id and is never redelivered.
        guard message.mid != 0, message.mayBeRedelivery else { return false }
        let statement = try db.cachedStatement(sql: """
            SELECT EXISTS(SELECT 1 FROM mqtt_receipts WHERE seq > (SELECT coalesce(max(seq), 0) FROM mqtt_receipts) - ?
                          AND mid = ? AND topic = ? AND digest = ?)
            """)
        return try Bool.fetchOne(statement, arguments: [MQTTDedupe.window, message.mid, message.topic, message.digest]) ?? false
    }

    /// Inside the message's own transaction or savepoint: its receipt (QoS 1 and 2 only).
    func insertReceipt(_ message: MQTTDedupe) throws {
        guard message.mid != 0 else { return }
        let seq = try receipts.insert(.integer(Int64(message.mid)), .text(message.topic), .text(message.digest))
        if seq % 500 == 0 {
            try db.execute(sql: "DELETE FROM mqtt_receipts WHERE seq <= ?", arguments: [seq - Int64(MQTTDedupe.window)])
        }
    }

    /// Once the message is stored for good (its savepoint, if any, released). Every message, not
    /// only retained ones: a message forwarded live arrives without the retain flag, and its
    /// retained copy comes later, on the next subscribe.
    mutating func stored(_ message: MQTTDedupe) {
        lastPayloads[ByteExactString(message.topic)] = message.digest
    }

    /// Before the commit. An upsert changes the row in place; INSERT OR REPLACE would delete and insert it.
    func writeLastPayloads() throws {
        guard !lastPayloads.isEmpty else { return }
        let upsert = RawStatement(statement: try db.cachedStatement(sql: """
            INSERT INTO mqtt_last_payload(topic, digest) VALUES (?, ?)
            ON CONFLICT(topic) DO UPDATE SET digest = excluded.digest
            """), db: db)
        for (key, digest) in lastPayloads { try upsert.execute(.text(key.string), .text(digest)) }
    }
}

extension EventLog {
    /// After a connect without a session: no redelivery can come, so old receipts only risk false matches.
    func forgetMQTTReceipts() throws {
        try pool.write { try MQTTDedupe.forgetReceipts(in: $0) }
    }
}
