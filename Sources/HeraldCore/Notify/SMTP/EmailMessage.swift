import Foundation

/// One plain-text email, as the email target hands it over. Checked when sent: an address that
/// could break the SMTP dialogue is an `SMTPError.invalidMessage`, never a command.
public struct EmailMessage: Sendable, Equatable {
    /// "ops@example.com" or "Herald <ops@example.com>": the header's form; MAIL FROM takes the address.
    public var from: String
    /// Recipients, in either form of `from`; each is one RCPT TO.
    public var to: [String]
    /// Any text: line breaks become spaces, anything not ASCII is sent as RFC 2047 words.
    public var subject: String
    /// Plain text, sent quoted-printable; line breaks of any kind arrive as CRLF.
    public var body: String
    /// Stable for one notification ("<42.ops@herald>"): a message resent after a lost reply
    /// carries the same id, so mail readers can recognise the duplicate. Brackets are added if missing.
    public var messageID: String
    /// The Date header: when the notification happened, not when a retry went out.
    public var date: Date

    public init(from: String, to: [String], subject: String, body: String, messageID: String, date: Date) {
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.messageID = messageID
        self.date = date
    }
}
