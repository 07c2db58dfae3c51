import Testing
@testable import HeraldCore

@Suite struct ConfigTests {
    @Test func emptyFileGivesEmbeddedDefaults() throws {
        let config = try ConfigLoader.parse("")
        #expect(config.server.listen == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(config.store.path == "herald.sqlite")
        #expect(config.mqtt.host == "127.0.0.1" && config.mqtt.port == 1883)
        #expect(config.server.coalesceMilliseconds == 10 && config.server.sendBufferBytes == nil)
        #expect(config.routes.map(\.topic.text).contains("sensors/+/+"))
    }

    @Test func fullFileIsRead() throws {
        let config = try ConfigLoader.parse("""
            server:
              listen: 127.0.0.1:9090
              keepalive_seconds: 5
              replay: 10
              release_start_up_pages: false
              coalesce_ms: 0
              send_buffer_bytes: 65536
            store:
              path: /tmp/x.sqlite
              synchronous: full
              retention: { max_events: 500, max_age_days: 2 }
            mqtt:
              url: mqtts://broker.local:8883
              client_id: gw1
              qos: 1
            routes:
              - { topic: "sensors/+/+", channel: sensors, type: reading, key: "{1}/{2}" }
              - { topic: "jobs/+/progress", channel: jobs, kind: job, key: "{1}" }
            """)
        #expect(config.server.listen.port == 9090)
        #expect(config.server.keepaliveSeconds == 5)
        #expect(!config.server.releaseStartUpPages)
        #expect(config.server.coalesceMilliseconds == 0 && config.server.sendBufferBytes == 65_536)
        #expect(config.store.synchronousFull)
        #expect(config.store.maxEvents == 500)
        #expect(config.mqtt.tls && config.mqtt.host == "broker.local" && config.mqtt.port == 8883)
        #expect(config.routes.count == 2)
        #expect(config.routes[1].kind == .job)
        #expect(config.routes[1].line == 18)
    }

    @Test func everyProblemIsReportedWithItsLine() {
        do {
            _ = try ConfigLoader.parse("""
                server:
                  listen: nowhere
                  replay: -4
                  coalesce_ms: 5000
                  colour: blue
                store:
                  synchronous: sometimes
                routes:
                  - { topic: "a/#/b", channel: x }
                  - { topic: "a/+", channel: "bad channel" }
                  - { topic: "a/+", channel: ok, key: "{2}" }
                  - { topic: "a/+", channel: ok, key: "{name}" }
                """)
            Issue.record("expected errors")
        } catch {
            let lines = error.problems.map(\.line)
            #expect(lines == [2, 3, 4, 5, 7, 9, 10, 11, 12], "\(error)")
            #expect(error.description.contains("unknown key 'colour'"))
            #expect(error.description.contains("uses {2} but topic 'a/+' has only 1 '+'"))
            #expect(error.description.contains("unknown placeholder"))
        }
    }

    @Test func yamlSyntaxErrorsHaveALine() {
        do {
            _ = try ConfigLoader.parse("server:\n  listen: [1, 2\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.problems.first?.line != nil)
        }
    }

    @Test func protectedModeRefusesAnonymousNetworkListening() throws {
        var config = HeraldConfig()
        config.server.listen = ListenAddress(host: "0.0.0.0", port: 8080)
        #expect(throws: HeraldServer.StartupError.self) { try HeraldServer.checkListenAddress(config) }
        config.server.allowAnonymous = true
        #expect(throws: Never.self) { try HeraldServer.checkListenAddress(config) }
    }

    /// A PostgreSQL store takes notify targets like SQLite does; a malformed URL says what is
    /// wrong, without the password, instead of becoming a file name.
    @Test func aPostgresStoreTakesNotifyTargetsAndAMalformedURLIsRefusedWithoutItsPassword() throws {
        var config = try ConfigLoader.parse("""
            store: { path: "postgres://herald:secret@127.0.0.1:5433/events" }
            notify:
              - name: phone
                ntfy: { url: "https://ntfy.sh/herald-alerts" }
            """)
        #expect(throws: Never.self) { try HeraldRuntime.checkStore(config) }
        config.store.path = "postgres://127.0.0.1/events"
        let malformed = #expect(throws: HeraldServer.StartupError.self) { try HeraldRuntime.checkStore(config) }
        #expect(malformed?.description.contains("names no user") == true)
        config.store.path = "postgres://herald:secret@127.0.0.1:notaport/events"
        let badPort = #expect(throws: HeraldServer.StartupError.self) { try HeraldRuntime.checkStore(config) }
        #expect(badPort?.description.contains("secret") == false)
        config.store.path = "/var/lib/herald/herald.sqlite"
        #expect(throws: Never.self) { try HeraldRuntime.checkStore(config) }
    }

    /// A session is bound to its token, and logs name tokens: one name or one digest may not
    /// stand for two tokens (the audit's session escalation).
    @Test func tokenNamesAndDigestsAreUnique() throws {
        let a = String(repeating: "a", count: 64), b = String(repeating: "b", count: 64)
        #expect(throws: Never.self) {
            try ConfigLoader.parse("tokens:\n  - { name: one, sha256: \"\(a)\" }\n  - { name: two, sha256: \"\(b)\" }\n")
        }
        do {
            _ = try ConfigLoader.parse("""
                tokens:
                  - { name: ops, sha256: "\(a)", subscribe: ["sensors"] }
                  - { name: ops, sha256: "\(b)", admin: true }
                  - { name: other, sha256: "\(a)" }
                """)
            Issue.record("duplicate token names were accepted")
        } catch {
            #expect(error.problems.map(\.description) == [
                "line 3: token name \"ops\" is also used on line 2: names must be unique",
                "line 4: this token's sha256 is also used on line 2: each token needs its own",
            ])
        }
    }

    @Test func limitsAndTrustedProxiesAreRead() throws {
        let config = try ConfigLoader.parse("""
            server:
              max_streams: 500
              max_connections_per_client: 7
              max_requests: 40
              max_requests_per_client: 4
              trusted_proxies: ["10.0.0.0/8", "::1"]
              body_timeout_seconds: 2
              idle_timeout_seconds: 3
              handshake_timeout_seconds: 4
              max_handshakes: 5
              stall_timeout_seconds: 6
            """)
        let server = config.server
        #expect(server.maxStreams == 500 && server.maxStreamsPerClient == 7, "max_connections_per_client is the older name")
        #expect(server.maxRequests == 40 && server.maxRequestsPerClient == 4)
        #expect(server.trustedProxies.map(\.description) == ["10.0.0.0/8", "::1"])
        #expect(server.bodyTimeoutSeconds == 2 && server.idleTimeoutSeconds == 3 && server.handshakeTimeoutSeconds == 4)
        #expect(server.maxHandshakes == 5 && server.stallTimeoutSeconds == 6)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("server: { trusted_proxies: [\"10.0.0.0/33\"] }") }
    }
}
