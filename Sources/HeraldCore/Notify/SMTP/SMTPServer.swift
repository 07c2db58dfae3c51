import Foundation
import NIOSSL

/// Where and how Herald hands email over, checked when it is built: `check-config` shows a
/// setting that cannot work before the first notification needs it.
public struct SMTPServer: Sendable {
    /// How the connection is protected.
    public enum Security: String, Sendable, CaseIterable {
        /// Plain connect, then STARTTLS (RFC 3207), which must be offered: a server that does
        /// not offer it is refused rather than sent to in the clear, since that is what a
        /// man in the middle stripping STARTTLS looks like.
        case startTLS
        /// TLS from the first byte (RFC 8314, port 465).
        case tls
        /// No encryption, for a relay on this machine only, where there is no wire to read.
        case none
    }

    /// Name or address to connect to; also the name the certificate must carry.
    public let host: String
    /// TCP port: 587 for STARTTLS submission, 465 for implicit TLS, 25 for a local relay.
    public let port: Int
    /// See `Security`; `.startTLS` unless said otherwise.
    public let security: Security
    /// PEM file of trust roots for a private CA; nil trusts the system's roots.
    public let caFile: String?
    /// For AUTH PLAIN or LOGIN, sent over TLS only; nil sends without authenticating.
    public let username: String?
    /// The password for `username`; never part of an error's description.
    public let password: String?
    /// The name Herald gives itself in EHLO; some servers check it against the client.
    public let heloName: String
    /// Bounds one whole send, from connect to the server's acceptance of the message.
    public let timeout: Duration
    /// The certificates in `caFile`, read once here so an unreadable file is a configuration
    /// error, not a failed notification.
    let trustRoots: [NIOSSLCertificate]?

    public init(
        host: String, port: Int, security: Security = .startTLS, caFile: String? = nil,
        username: String? = nil, password: String? = nil, heloName: String = "herald",
        timeout: Duration = .seconds(30)
    ) throws(SMTPError) {
        guard !host.isEmpty else { throw .invalidConfiguration("smtp host is empty") }
        guard Self.isToken(host) else {
            throw .invalidConfiguration("smtp host \"\(host)\" contains spaces or control characters")
        }
        guard (1...65535).contains(port) else {
            throw .invalidConfiguration("smtp port \(port) is outside 1–65535")
        }
        if security == .none && !ListenAddress.isLoopback(host: host) {
            throw .invalidConfiguration(
                "smtp security \"none\" sends mail in the clear, so it is allowed only to 127.0.0.1, ::1 or localhost, not \"\(host)\"")
        }
        switch (username, password) {
        case (nil, nil): break
        case (.some(let user), .some) where !user.isEmpty:
            if security == .none {
                throw .invalidConfiguration("smtp credentials are sent over TLS only; security \"none\" has none")
            }
        case (.some, .some): throw .invalidConfiguration("smtp username is empty")
        case (.some, nil): throw .invalidConfiguration("smtp username is set without a password")
        case (nil, .some): throw .invalidConfiguration("smtp password is set without a username")
        }
        guard !heloName.isEmpty, Self.isToken(heloName) else {
            throw .invalidConfiguration("smtp heloName \"\(heloName)\" must be a host name without spaces")
        }
        guard timeout > .zero else { throw .invalidConfiguration("smtp timeout must be more than zero") }

        self.host = host
        self.port = port
        self.security = security
        self.caFile = caFile
        self.username = username
        self.password = password
        self.heloName = heloName
        self.timeout = timeout
        if let caFile { self.trustRoots = try Self.readTrustRoots(caFile) } else { self.trustRoots = nil }
    }

    /// Printable ASCII without spaces: what may stand in a command line and in SNI.
    private static func isToken(_ text: String) -> Bool {
        text.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    private static func readTrustRoots(_ path: String) throws(SMTPError) -> [NIOSSLCertificate] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw .invalidConfiguration("smtp caFile \"\(path)\" does not exist")
        }
        guard let pem = FileManager.default.contents(atPath: path) else {
            throw .invalidConfiguration("smtp caFile \"\(path)\" cannot be read (permissions?)")
        }
        let certificates = try? NIOSSLCertificate.fromPEMBytes(Array(pem))
        guard let certificates, !certificates.isEmpty else {
            throw .invalidConfiguration("smtp caFile \"\(path)\" holds no PEM certificate")
        }
        return certificates
    }
}
