import Testing
@testable import HeraldCore

/// What `herald tail` and `channels` print of an error answer: one line, never a page.
@Suite struct SSEClientErrorTests {
    func message(_ body: String, status: Int = 502, reason: String = "Bad Gateway") -> String? {
        SSEClientError(status: status, reason: reason, body: body).message
    }

    @Test func heraldsJSONErrorIsItsMessage() {
        #expect(message("{\"error\":\"forbidden\",\"detail\":\"not\\nyours\"}", status: 403, reason: "Forbidden") == "forbidden: not yours")
        #expect(message("{\"error\":\"not found\",\"detail\":\"\"}") == "not found")
    }

    @Test func anHTMLPageGivesItsTitleOrNothing() {
        #expect(message("<html><head><title>Upstream\n  down</title></head><body>\n<h1>x</h1></body></html>") == "Upstream down")
        #expect(message("<html><head><title>502 Bad Gateway</title></head></html>") == nil)
        #expect(message("<!DOCTYPE html>\n<body>\n<p>oops</p>\n</body>") == nil)
    }

    @Test func otherTextIsACollapsedExcerptOfAtMost120Characters() {
        let long = String(repeating: "word\t\r\n ", count: 100)
        let excerpt = message(long) ?? ""
        #expect(excerpt.count == 120 && excerpt.hasSuffix("…") && !excerpt.contains("\n") && !excerpt.contains("\t"))
        #expect(message("  \n ") == nil)
        #expect(SSEClientError(status: 500, reason: "Internal Server Error", body: "disk\nfull").description
                == "500 Internal Server Error: disk full")
    }
}
