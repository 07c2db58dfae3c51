/// Why a send failed, and whether the outbox should try it again: `isRetryable` is the one
/// question the email target asks; `description` is what a person reads in the log.
public enum SMTPError: Error, CustomStringConvertible, Sendable {
    /// A setting that cannot work (from `SMTPServer.init`), for `check-config` to show.
    case invalidConfiguration(String)
    /// The message cannot be sent as given: an address with a line break, no recipient.
    case invalidMessage(String)
    /// No TCP connection: refused, unreachable, or the name did not resolve.
    case connectionFailed(host: String, port: Int, reason: String)
    /// The connection ended (reset, closed, EOF in the TLS handshake) while waiting for `during`.
    case connectionClosed(during: String, reason: String)
    /// The send took longer than the server's `timeout`; it was waiting for `during`.
    case timedOut(during: String, after: Duration)
    /// The server answered `command` with a 4xx (try later) or 5xx (never) reply.
    case rejected(command: String, reply: SMTPReply)
    /// The peer does not speak SMTP as RFC 5321 says: a wrong port, or a broken server.
    case protocolViolation(String)
    /// `.startTLS` is required and the server's EHLO reply does not offer it.
    case startTLSNotOffered(host: String)
    /// The server's certificate is not signed by a trusted root, or does not name the host.
    case certificateNotTrusted(host: String, reason: String)
    /// TLS could not be agreed for another reason (protocol version, ciphers).
    case tlsFailed(reason: String)
    /// Credentials are configured and the server offers neither AUTH PLAIN nor AUTH LOGIN.
    case authenticationNotOffered(host: String, offered: [String])
    /// The server wants authentication (530) and no credentials are configured.
    case authenticationRequired(command: String, reply: SMTPReply)
    /// The task sending was cancelled (Herald is shutting down); the message was not accepted.
    case cancelled

    /// Whether the same message may succeed later unchanged: a network or a server's passing
    /// trouble may; a refusal, a missing feature or a bad setting will not.
    public var isRetryable: Bool {
        switch self {
        case .connectionFailed, .connectionClosed, .timedOut, .cancelled: true
        case .rejected(_, let reply): (400..<500).contains(reply.code)
        case .invalidConfiguration, .invalidMessage, .protocolViolation, .startTLSNotOffered,
             .certificateNotTrusted, .tlsFailed, .authenticationNotOffered, .authenticationRequired: false
        }
    }

    public var description: String {
        switch self {
        case .invalidConfiguration(let text): text
        case .invalidMessage(let text): "message cannot be sent: \(text)"
        case .connectionFailed(let host, let port, let reason): "cannot connect to \(host):\(port): \(reason)"
        case .connectionClosed(let during, let reason): "connection lost during \(during): \(reason)"
        case .timedOut(let during, let after): "timed out after \(after) during \(during)"
        case .rejected(let command, let reply): "\(command) refused: \(reply)"
        case .protocolViolation(let text): "not SMTP: \(text)"
        case .startTLSNotOffered(let host): "\(host) does not offer STARTTLS, and security startTLS requires it"
        case .certificateNotTrusted(let host, let reason): "certificate of \(host) not trusted: \(reason)"
        case .tlsFailed(let reason): "TLS failed: \(reason)"
        case .authenticationNotOffered(let host, let offered):
            "\(host) offers no AUTH PLAIN or LOGIN (offers: \(offered.isEmpty ? "none" : offered.joined(separator: " ")))"
        case .authenticationRequired(let command, let reply):
            "\(command) refused: \(reply); the server wants a username and password"
        case .cancelled: "cancelled before the server accepted the message"
        }
    }
}
