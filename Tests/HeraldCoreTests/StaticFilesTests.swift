import Foundation
import HTTPTypes
import Logging
import Testing
@testable import HeraldCore

/// The dashboard's files: only what is inside the web root, and never a path a route owns.
@Suite struct StaticFilesTests {
    private func webRoot(_ names: [String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("herald-static-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for name in names { try "x".write(toFile: root + "/" + name, atomically: true, encoding: .utf8) }
        return root
    }

    @Test func theRoutesLiteralFirstSegmentsAreTheirs() throws {
        let files = StaticFiles(root: try webRoot([]), routes: ["/api/channels/**", "/sse", "/channels/**", "/", "/**", "/:id/x", "/{id}"],
                                logger: Logger(label: "test"))
        #expect(files.routed == ["api", "sse", "channels"])
    }

    /// A file named like a route stays unserved: the route answers, and no stat is made for it.
    @Test func aPathUnderARouteIsNeverLookedUpOnDisk() throws {
        let root = try webRoot(["sse", "app.js"])
        let files = StaticFiles(root: root, routes: ["/sse"], logger: Logger(label: "test"))
        #expect(files.lookup(method: .get, path: "/sse") == .absent)
        #expect(files.lookup(method: .get, path: "/app.js") == .file)
        #expect(files.lookup(method: .post, path: "/app.js") == .absent)
        #expect(files.lookup(method: .get, path: "/%2e%2e/etc/passwd") == .outside)
        #expect(StaticFiles(root: root, logger: Logger(label: "test")).lookup(method: .get, path: "/sse") == .file)
    }
}
