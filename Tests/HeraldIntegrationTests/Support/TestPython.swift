import Foundation

/// The local receivers the notification tests send to (Tests/receivers: an SMTP server, a Web
/// Push service) are Python programs on libraries from PyPI. They run on the test venv that
/// `make test` builds from Tests/browser/requirements.txt before the Swift suite; HERALD_TEST_PYTHON
/// names another interpreter.
enum TestPython {
    static func executable() throws -> String {
        let path = ProcessInfo.processInfo.environment["HERALD_TEST_PYTHON"] ?? repositoryRoot + "/.build-browser/venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestFailure("no test Python at \(path): run `make test-venv` (or set HERALD_TEST_PYTHON)")
        }
        return path
    }

    /// Starts `Tests/receivers/<script>` with `arguments`; its output goes to `logPath`.
    static func receiver(_ script: String, arguments: [String], logPath: String) throws -> ChildProcess {
        try ChildProcess(executable: executable(), arguments: ["-u", repositoryRoot + "/Tests/receivers/" + script] + arguments,
                         logPath: logPath, environment: ["PYTHONDONTWRITEBYTECODE": "1"])
    }
}
