import Testing
@testable import HeraldCore

/// The durability tests' crash points come from the environment the bridge is made with.
@Suite struct CrashHooksTests {
    @Test func crashHooksAreReadOnceFromTheEnvironmentGiven() {
        let hooks = CrashHooks.fromEnvironment(["HERALD_TEST_CRASH_BEFORE_COMMIT": "a/b", "PATH": "/bin"])
        #expect(hooks.beforeCommit == "a/b" && hooks.afterCommit == nil)
        #expect(CrashHooks.fromEnvironment([:]).beforeCommit == nil)
    }
}
