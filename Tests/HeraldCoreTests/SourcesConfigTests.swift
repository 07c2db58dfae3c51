import Testing
@testable import HeraldCore

@Suite struct SourcesConfigTests {
    @Test func everySourceIsOnByDefault() throws {
        let config = try ConfigLoader.parse("")
        let names = config.sources.makeSources().map(\.source.name)
        #expect(names == ["homeassistant", "zigbee2mqtt", "tasmota", "shelly", "octoprint"])
        #expect(config.sources.makeSourceSet().filters
                == ["homeassistant/#", "zigbee2mqtt/#", "tele/+/+", "stat/+/+", "shellies/#", "+/status/+", "+/online", "octoPrint/#"])
    }

    @Test func sourcesAreRebasedOrTurnedOff() throws {
        let config = try ConfigLoader.parse("""
            sources:
              zigbee2mqtt: { base_topic: z2m, channel: zigbee }
              tasmota: false
              homeassistant: { discovery_prefix: ha }
              shelly: { enabled: false }
              octoprint: true
              jobs_channel: prints
              max_devices: 50
            """)
        #expect(config.sources.zigbee2mqtt?.baseTopic == "z2m" && config.sources.zigbee2mqtt?.channel == "zigbee")
        #expect(config.sources.tasmota == nil && config.sources.shelly == nil)
        #expect(config.sources.homeAssistant?.discoveryPrefix == "ha")
        #expect(config.sources.octoPrint?.baseTopic == "octoPrint")
        #expect(config.sources.jobsChannel == "prints" && config.sources.maxDevices == 50)
        #expect(config.sources.channels == ["sensors", "zigbee"])
        #expect(try ConfigLoader.parse("sources: false").sources.isEmpty)
    }

    @Test func sourceMistakesHaveTheirLines() {
        do {
            _ = try ConfigLoader.parse("""
                sources:
                  zigbee2mqtt: { base_topic: "z2m/#" }
                  tasmota: { full_topic: "%topic%/" }
                  shelly: { colour: red }
                  channel: "bad channel"
                  hue: true
                """)
            Issue.record("expected errors")
        } catch {
            #expect(error.problems.map(\.line) == [2, 3, 4, 5, 6], "\(error)")
            #expect(error.description.contains("must hold %prefix% and %topic% as whole segments"))
        }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("sources: { tasmota: { full_topic: \"%prefix%/tasmota_%topic%/\" } }") }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("sources: { jobs_channel: sensors }") }
    }

    @Test func routesMapFieldsToReadingsAndJobs() throws {
        let config = try ConfigLoader.parse("""
            routes:
              - topic: "factory/+/telemetry"
                channel: machines
                key: "{1}"
                readings: { temperature: { field: temp.c, unit: "°C" }, rpm: spindle.rpm }
              - topic: "printers/+/events"
                channel: jobs
                kind: job
                key: "{1}/{$job}"
                job: { state: { field: event, map: { started: running, done: succeeded } }, progress: pct, eta: left_s, message: note }
              - { topic: "things/+", channel: things, type: "{$kind}", key: "{$id}" }
            """)
        let router = TopicRouter(config.routes)
        let telemetry = try #require(router.route("factory/lathe/telemetry"))
        let readings = try telemetry.mapped!.drafts(for: telemetry, payload: Array(#"{"temp":{"c":41.5},"spindle":{"rpm":1200}}"#.utf8), time: 0).get()
        #expect(readings.map(\.key) == ["lathe/temperature", "lathe/rpm"])
        #expect(readings.map(\.data) == [#"{"value":41.5,"unit":"°C"}"#, #"{"value":1200}"#])
        #expect(readings.allSatisfy { $0.type == "reading" && $0.channel == "machines" })

        let events = try #require(router.route("printers/mk4/events"))
        let job = try events.mapped!.drafts(for: events, payload: Array(#"{"job":"j-7","event":"started","pct":"12.5","left_s":900,"note":"layer 3"}"#.utf8), time: 0).get()
        #expect(job.map(\.key) == ["mk4/j-7"])
        #expect(job.first?.data == #"{"state":"running","progress":12.5,"remaining_seconds":900,"message":"layer 3"}"#)
        let unknownState = events.mapped!.drafts(for: events, payload: Array(#"{"job":"j-7","event":"exploded"}"#.utf8), time: 0)
        #expect(throws: MappedRoute.Problem.self) { try unknownState.get() }
        let noKey = events.mapped!.drafts(for: events, payload: Array(#"{"event":"done"}"#.utf8), time: 0)
        #expect(throws: MappedRoute.Problem.self) { try noKey.get() }

        let thing = try #require(router.route("things/a"))
        let typed = try thing.mapped!.drafts(for: thing, payload: Array(#"{"kind":"door","id":7,"open":true}"#.utf8), time: 0).get()
        #expect(typed.map(\.type) == ["door"] && typed.map(\.key) == ["7"])
        #expect(typed.first?.data == #"{"kind":"door","id":7,"open":true}"#)
    }

    @Test func fieldMappingMistakesHaveTheirLines() {
        do {
            _ = try ConfigLoader.parse("""
                routes:
                  - topic: "a/+"
                    channel: a
                    readings: { t: "" }
                  - topic: "b/+"
                    channel: b
                    job: { state: x }
                  - topic: "c/+"
                    channel: c
                    kind: job
                    job: { state: { field: e, map: { go: flying } }, speed: s }
                  - { topic: "d/+", channel: d, type: "{1}" }
                  - { topic: "e/+", channel: e, kind: job, job: {} }
                """)
            Issue.record("expected errors")
        } catch {
            #expect(error.problems.map(\.line) == [4, 7, 11, 11, 12, 13], "\(error)")
            #expect(error.description.contains("job: goes with kind: job"))
            #expect(error.description.contains("'flying' is no job state"))
            #expect(error.description.contains("unknown key 'speed'"))
        }
    }
}
