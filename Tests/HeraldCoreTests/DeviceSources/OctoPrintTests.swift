import Testing
@testable import HeraldCore

/// https://github.com/OctoPrint/OctoPrint-MQTT (README: topics and payloads) and
/// https://docs.octoprint.org/en/master/events/index.html (PrintStarted … PrintCancelled fields).
@Suite struct OctoPrintTests {
    static func progress(_ percent: Int, left: Int) -> String {
        #"{"progress": \#(percent), "path": "benchy.gcode", "location": "local", "printer_data": {"state": {"text": "Printing"}, "job": {"file": {"name": "benchy.gcode", "path": "benchy.gcode", "origin": "local"}}, "progress": {"completion": \#(percent), "printTime": 600, "printTimeLeft": \#(left)}}, "_timestamp": 1517190629}"#
    }

    @Test func aPrintFromStartToDone() throws {
        let harness = SourceHarness()
        let started = SourceHarness.jobs(harness.feed("octoPrint/event/PrintStarted",
            #"{"name": "benchy.gcode", "path": "benchy.gcode", "origin": "local", "size": 242038, "_event": "PrintStarted", "_timestamp": 1517190629}"#))
        #expect(started.map(\.key) == ["octoprint/benchy.gcode"])
        #expect(started.first?.data == #"{"state":"running","progress":0,"message":"started","name":"benchy.gcode"}"#)
        let running = SourceHarness.jobs(harness.feed("octoPrint/progress/printing", Self.progress(42, left: 1234), retain: true))
        #expect(running.first?.data == #"{"state":"running","progress":42,"message":"printing","name":"benchy.gcode","remaining_seconds":1234}"#)
        #expect(SourceHarness.jobs(harness.feed("octoPrint/event/PrintPaused", #"{"name":"benchy.gcode","path":"benchy.gcode","origin":"local"}"#))
                .first?.data.contains("paused") == true)
        let done = SourceHarness.jobs(harness.feed("octoPrint/event/PrintDone",
            #"{"name": "benchy.gcode", "path": "benchy.gcode", "origin": "local", "size": 242038, "time": 3600.5, "_event": "PrintDone"}"#))
        #expect(done.first?.data.hasPrefix(#"{"state":"succeeded","progress":100"#) == true)
        // The retained progress of the finished print, sent again on every subscribe, starts nothing.
        #expect(harness.feed("octoPrint/progress/printing", Self.progress(100, left: 0), retain: true)?.drafts.isEmpty == true)
    }

    @Test func failedAndCancelledPrints() {
        let harness = SourceHarness()
        harness.feed("octoPrint/event/PrintStarted", #"{"name":"a.gcode","path":"a.gcode","origin":"local"}"#)
        let failed = SourceHarness.jobs(harness.feed("octoPrint/event/PrintFailed",
            #"{"name":"a.gcode","path":"a.gcode","origin":"local","time":12.5,"reason":"error"}"#))
        #expect(failed.first?.data == #"{"state":"failed","message":"failed: error","name":"a.gcode"}"#)
        harness.feed("octoPrint/event/PrintStarted", #"{"name":"b.gcode","path":"b.gcode","origin":"local"}"#)
        #expect(SourceHarness.jobs(harness.feed("octoPrint/event/PrintCancelled", #"{"name":"b.gcode","path":"b.gcode","origin":"local"}"#))
                .first?.data.contains(#""state":"cancelled""#) == true)
        // OctoPrint follows a cancel with PrintFailed (reason "cancelled"): the print is already over.
        #expect(harness.feed("octoPrint/event/PrintFailed", #"{"name":"b.gcode","path":"b.gcode","reason":"cancelled"}"#)?.drafts.isEmpty == true)
    }

    @Test func aPrintSeenOnlyFromItsProgressAndThePrinterItself() {
        let harness = SourceHarness()
        // A retained progress may be what a failed print left: it starts nothing; a live one does.
        #expect(harness.feed("octoPrint/progress/printing", Self.progress(30, left: 900), retain: true)?.drafts.isEmpty == true)
        #expect(SourceHarness.jobs(harness.feed("octoPrint/progress/printing", Self.progress(31, left: 890))).count == 1)
        let temperature = SourceHarness.readings(harness.feed("octoPrint/temperature/tool0", #"{"actual": 210.3, "target": 210.0, "_timestamp": 1517190629}"#))
        #expect(temperature["octoprint/printer/tool0_temperature"] == #"{"value":210.3,"unit":"°C"}"#)
        #expect(harness.feed("octoPrint/mqtt", "connected", retain: true)?.drafts.last?.data == #"{"availability":"online"}"#)
        #expect(harness.feed("octoPrint/event/ZChange", #"{"new":0.4,"old":0.2}"#)?.ignored != nil)
        #expect(harness.feed("octoPrint/event/PrintStarted", "{}")?.problem != nil)
    }
}
