import Foundation

/// Tests/receivers/smtp_receiver.py (aiosmtpd) on a free loopback port, stopped by pid when
/// the test ends. Its self-signed certificate for localhost and 127.0.0.1 is `certificate`.
final class SMTPReceiver: Sendable {
    /// One message the server accepted, as it printed it.
    struct Mail: Decodable {
        let mail_from: String
        let rcpt_tos: [String]
        /// The whole message as received, after the server removed the dot-stuffing.
        let data: String
        let tls: Bool
        let auth_user: String?
        /// Subject and body as Python's email package decodes them.
        let subject: String?
        let body: String?
    }

    let port: Int
    let certificate: String
    private let dir: TempDir
    private let process: ChildProcess

    init(_ options: [String] = []) async throws {
        dir = try TempDir()
        port = try freePort()
        certificate = dir.file("cert.pem")
        process = try TestPython.receiver(
            "smtp_receiver.py", arguments: ["--port", "\(port)", "--cert-dir", dir.path] + options,
            logPath: dir.file("receiver.log"))
        let process = self.process
        do {
            try await eventually("the SMTP receiver to listen", seconds: 90) {
                process.log.contains("{\"ready\": true}") || !process.isRunning
            }
        } catch {
            throw TestFailure("\(error); smtp_receiver.py said:\n\(process.log)")
        }
        guard process.log.contains("{\"ready\": true}") else { throw TestFailure("smtp_receiver.py exited:\n\(process.log)") }
    }

    /// What it accepted so far: its JSON lines (the log also holds aiosmtpd's own lines).
    func mail() -> [Mail] {
        process.log.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{\"mail_from\"") else { return nil }
            return try? JSONDecoder().decode(Mail.self, from: Data(line.utf8))
        }
    }

    var log: String { process.log }

    func stop() async { await process.stop() }
}
