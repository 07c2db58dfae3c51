import Foundation

/// Where the durability tests make Herald die around a commit: `HERALD_TEST_CRASH_BEFORE_COMMIT=topic`
/// exits with 86 before a message on that topic is handed to the writer, `HERALD_TEST_CRASH_AFTER_COMMIT`
/// with 87 once its burst is committed and before the PUBACKs leave. Read once, when the bridge is
/// made, so that what a message pays is a nil check.
struct CrashHooks: Sendable {
    var beforeCommit: String?
    var afterCommit: String?

    static let none = CrashHooks()

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> CrashHooks {
        CrashHooks(beforeCommit: environment["HERALD_TEST_CRASH_BEFORE_COMMIT"],
                   afterCommit: environment["HERALD_TEST_CRASH_AFTER_COMMIT"])
    }

    func crashBeforeCommit(of topic: String) {
        if let beforeCommit, beforeCommit == topic { _exit(86) }
    }

    func crashAfterCommit(of topic: String) {
        if let afterCommit, afterCommit == topic { _exit(87) }
    }
}
