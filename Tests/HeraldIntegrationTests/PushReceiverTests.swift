import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
import Testing

/// Herald's Web Push encryption and VAPID tokens against Tests/receivers/push_receiver.py, a push
/// service that checks and decrypts with Python's http_ece and cryptography: a second, independent
/// implementation of RFC 8291 and RFC 8292, so a mistake made the same way on both sides of a
/// round trip in Swift cannot pass here.
@Suite struct PushReceiverTests {
    /// The receiver, once it printed its subscriptions.
    static func start(_ dir: TempDir) async throws -> (ChildProcess, main: PushSubscription, gone: PushSubscription) {
        let port = try freePort()
        let receiver = try TestPython.receiver("push_receiver.py", arguments: ["--port", String(port)], logPath: dir.file("push.log"))
        var ready: JSONText?
        try await eventually("push_receiver.py to print its subscriptions") {
            ready = lines(receiver).first { $0.value(at: "ready")?.singleLine == "true" }
            return ready != nil
        }
        let main = try PushSubscription(json: try #require(ready?.value(at: "subscription")).bytes)
        let gone = try PushSubscription(json: try #require(ready?.value(at: "gone")).bytes)
        return (receiver, main, gone)
    }

    /// The receiver's JSON lines so far (Python's own complaints, if any, are not JSON and are skipped).
    static func lines(_ receiver: ChildProcess) -> [JSONText] {
        receiver.log.split(separator: "\n").compactMap { try? JSONText(validating: Array($0.utf8)) }
    }

    static func push(_ body: [UInt8], to endpoint: String, authorization: String, extra: [(String, String)] = []) async throws -> Int {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        for (name, value) in [("Content-Encoding", "aes128gcm"), ("Content-Type", "application/octet-stream"),
                              ("TTL", "60"), ("Authorization", authorization)] + extra {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        return Int(try await testHTTPClient.execute(request, timeout: .seconds(30)).status.code)
    }

    static var inAnHour: Int64 { Int64(Date().timeIntervalSince1970) + 3600 }

    @Test func theReceiverDecryptsWhatHeraldEncrypted() async throws {
        let dir = try TempDir()
        let (receiver, main, _) = try await Self.start(dir)
        defer { receiver.signal(SIGTERM) }
        let key = VAPIDKey()
        let message = #"{"id":7,"channel":"alerts","type":"raised","key":"hot","data":{"severity":"critical","message":"31 °C"}}"#
        let body = try WebPushEncryption.encrypt(Array(message.utf8), for: main)
        let authorization = try key.authorization(audienceOf: main.endpoint, subject: "mailto:ops@example.com", expiresAt: Self.inAnHour)
        let status = try await Self.push(body, to: main.endpoint, authorization: authorization,
                                         extra: [("Urgency", "high"), ("Topic", "hot")])
        #expect(status == 201, "\(receiver.log)")

        var line: JSONText?
        try await eventually("the receiver's line for the push") {
            line = Self.lines(receiver).first { $0.value(at: "path")?.stringValue == "/push/main" }
            return line != nil
        }
        #expect(line?.value(at: "ok")?.singleLine == "true", "\(line?.singleLine ?? "")")
        #expect(line?.value(at: "payload")?.stringValue == message)
        #expect(line?.value(at: "urgency")?.stringValue == "high")
        #expect(line?.value(at: "topic")?.stringValue == "hot")
        #expect(line?.value(at: "ttl")?.numberValue == 60)
        #expect(line?.value(at: "sub")?.stringValue == "mailto:ops@example.com")
        await receiver.stop()
    }

    @Test func aTokenForAnotherAudienceIsRefusedAndGoneAnswers410() async throws {
        let dir = try TempDir()
        let (receiver, main, gone) = try await Self.start(dir)
        defer { receiver.signal(SIGTERM) }
        let key = VAPIDKey()
        let body = try WebPushEncryption.encrypt(Array("hello".utf8), for: main)
        let elsewhere = try key.authorization(audienceOf: "https://push.example.net/x", subject: "mailto:ops@example.com",
                                              expiresAt: Self.inAnHour)
        #expect(try await Self.push(body, to: main.endpoint, authorization: elsewhere) == 400)

        let authorization = try key.authorization(audienceOf: gone.endpoint, subject: "https://herald.example.com/",
                                                  expiresAt: Self.inAnHour)
        #expect(try await Self.push(body, to: gone.endpoint, authorization: authorization) == 410)
        try await eventually("both pushes logged") { Self.lines(receiver).filter { $0.value(at: "path") != nil }.count == 2 }
        let logged = Self.lines(receiver).filter { $0.value(at: "path") != nil }
        #expect(logged.first?.value(at: "error")?.stringValue?.contains("aud") == true, "\(receiver.log)")
        #expect(logged.last?.value(at: "path")?.stringValue == "/push/gone")
        await receiver.stop()
    }
}
