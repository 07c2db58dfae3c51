import Foundation
import Testing
@testable import HeraldCore

/// Herald finds its dashboard wherever it is started from, and says so when it cannot.
@Suite struct WebRootTests {
    let checkoutWeb = WebRoot.checkout + "/Web"

    @Test func aBinaryInsideTheCheckoutServesTheCheckoutsFiles() {
        let binary = WebRoot.checkout + "/.build/debug/herald"
        #expect(WebRoot.choose(executable: binary, exists: { _ in true }) == checkoutWeb,
                "even with an installed copy: a developer's build serves the files beside it")
    }

    @Test func anInstalledBinaryServesTheInstalledFiles() {
        #expect(WebRoot.choose(executable: "/usr/bin/herald", exists: { _ in true }) == WebRoot.installed)
        #expect(WebRoot.choose(executable: "/usr/bin/herald", exists: { $0.hasPrefix(checkoutWeb) }) == checkoutWeb)
        #expect(WebRoot.choose(executable: "/usr/bin/herald", exists: { _ in false }) == "Web")
    }

    @Test func theCheckoutIsWhereTheDashboardIs() {
        #expect(FileManager.default.fileExists(atPath: checkoutWeb + "/index.html"), "\(checkoutWeb)")
        #expect(WebRoot.problem(with: checkoutWeb) == nil)
        #expect(WebRoot.problem(with: "/nonexistent")?.contains("does not exist") == true)
        #expect(WebRoot.problem(with: WebRoot.checkout + "/Sources")?.contains("no index.html") == true)
    }
}
