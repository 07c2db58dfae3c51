import Testing
@testable import HeraldCore

@Suite struct SelectorTests {
    @Test(arguments: [
        ("sensors", "sensors", true), ("sensors", "sensors/a", false),
        ("sensors/+", "sensors/a", true), ("sensors/+", "sensors/a/b", false), ("sensors/+", "sensors", false),
        ("sensors/#", "sensors", true), ("sensors/#", "sensors/a/b", true), ("sensors/#", "sensorsX", false),
        ("#", "anything/at/all", true), ("+/+", "a/b", true), ("+/b", "a/c", false),
        ("#", "$status", false), ("+", "$status", false), ("$status", "$status", true),
        ("$status/#", "$status/x", true), ("a/+/c", "a//c", true),
    ])
    func matching(selector: String, name: String, expected: Bool) throws {
        #expect(try Selector(selector).matches(name) == expected)
    }

    @Test func capturesPlusSegmentsThenRest() throws {
        var captures: [Substring] = []
        #expect(try Selector("sensors/+/+/#").match("sensors/greenhouse/temp/raw/x", captures: &captures))
        #expect(captures == ["greenhouse", "temp", "raw/x"])
    }

    @Test(arguments: ["", "a/#/b", "a+", "#a", "a/b#"])
    func invalidSelectorsAreRefused(text: String) {
        #expect(throws: InvalidSelector.self) { try Selector(text) }
    }

    @Test func selectorSetMatchesAny() throws {
        let set = SelectorSet([try Selector("jobs/#"), try Selector("$status")])
        #expect(set.matches("jobs/a"))
        #expect(set.matches("$status"))
        #expect(!set.matches("sensors"))
    }

    @Test func channelNames() {
        #expect(throws: Never.self) { try Names.validateChannel("sensors/greenhouse:1_a-b.c") }
        for bad in ["", "$status", "a b", "a\nb", "a\0", String(repeating: "x", count: 129), "ü"] {
            #expect(throws: InvalidName.self, "\(String(reflecting: bad))") { try Names.validateChannel(bad) }
        }
        #expect(throws: Never.self) { try Names.validateChannel("$status", allowReserved: true) }
        #expect(throws: InvalidName.self) { try Names.validateKey("a\r\nb") }
        #expect(throws: Never.self) { try Names.validateKey("Gewächshaus/temp") }
    }
}
