import Testing
@testable import HeraldCore

@Suite struct JSONTextTests {
    @Test(arguments: ["{}", "[]", "0", "-1.5e+10", "\"a\\u00e9\\ud83d\\ude80\"", "true", "null",
                      "{\"a\":[1,{\"b\":null}],\"c\":\"\\n\"}", " \n {\"x\" : 1}\r\n"])
    func validTexts(text: String) {
        #expect(throws: Never.self) { try JSONText(validating: Array(text.utf8)) }
    }

    @Test(arguments: ["", "{", "{\"a\":}", "[1,]", "01", "1.", "\"a\nb\"", "{a:1}", "tru", "1 2", "\"\\x\"", "nul"])
    func invalidTexts(text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONText(validating: Array(text.utf8)) }
    }

    @Test func errorsSayWhere() {
        do {
            _ = try JSONText(validating: Array("{\n  \"a\": 1,\n  \"b\" 2\n}".utf8))
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 3)
            #expect(error.column == 7)
            #expect(error.description.contains("':'"))
        }
    }

    @Test func singleLineKeepsTheTextExceptLineBreaks() throws {
        let json = try JSONText(validating: Array("{\n\t\"b\": 1.50,\r\n \"a\": \"x\\ny\"\n}\n".utf8))
        #expect(json.singleLine == "{  \"b\": 1.50,   \"a\": \"x\\ny\" }")
    }

    @Test func membersInOrder() throws {
        let members = try JSONText(validating: Array("{\"type\":\"t\",\"data\":{\"v\":[1,2]},\"key\":null}".utf8)).objectMembers()
        #expect(members.map(\.key) == ["type", "data", "key"])
        #expect(members[1].value.singleLine == "{\"v\":[1,2]}")
        #expect(members[0].value.stringValue == "t")
        #expect(members[2].value.isNull)
    }

    @Test func quotedEscapesEverythingThatMatters() {
        #expect(JSONText.quoted("a\"b\\c\n\r\t\u{0}\u{1F}ü") == "\"a\\\"b\\\\c\\n\\r\\t\\u0000\\u001fü\"")
    }

    @Test func quotedCopiesCleanStringsWholeAndStillEscapesLineSeparators() {
        #expect(JSONText.quoted("greenhouse/temp-1") == "\"greenhouse/temp-1\"")
        #expect(JSONText.quoted("") == "\"\"")
        #expect(JSONText.quoted("Grüße €5 ✓") == "\"Grüße €5 ✓\"")     // E2 lead bytes that are not U+2028/9
        #expect(JSONText.quoted("a\u{2028}b\u{2029}c") == "\"a\\u2028b\\u2029c\"")
        #expect(JSONText.quoted("del\u{7F}") == "\"del\\u007f\"")
    }
}
