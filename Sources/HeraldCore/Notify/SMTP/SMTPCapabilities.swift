/// What the server offers, from the lines of its EHLO reply after the first (RFC 5321 §4.1.1.1).
struct SMTPCapabilities: Sendable, Equatable {
    /// STARTTLS is offered (RFC 3207).
    var startTLS = false
    /// The SASL mechanisms after AUTH, upper-cased (RFC 4954).
    var authMechanisms: Set<String> = []

    init(ehlo reply: SMTPReply) {
        for line in reply.lines.dropFirst() {
            // "AUTH=LOGIN PLAIN" is the form some old servers still send beside "AUTH LOGIN PLAIN".
            let words = line.uppercased().split(whereSeparator: { $0 == " " || $0 == "=" })
            guard let keyword = words.first else { continue }
            switch keyword {
            case "STARTTLS": startTLS = true
            case "AUTH": authMechanisms.formUnion(words.dropFirst().map(String.init))
            default: break
            }
        }
    }
}
