/// The one place that writes the `text/event-stream` wire format.
///
/// Field values that must stay on one line (`id`, `event`) lose any CR, LF and NUL here as a
/// last line of defence; the doors (HTTP, MQTT routes) already refuse such names. `data` is split
/// on CRLF, CR and LF into several `data:` lines, which a conforming parser joins back with LF.
public enum SSEEncoder {
    /// An event frame, terminated by the blank line that dispatches it.
    public static func event(id: String?, name: String?, data: String) -> String {
        var out = ""
        out.reserveCapacity(data.utf8.count + 64)
        // Appended piece by piece: `a + b + c` would build a temporary string for each `+`.
        if let id {
            out += "id: "
            out += singleLine(id)
            out += "\n"
        }
        if let name {
            out += "event: "
            out += singleLine(name)
            out += "\n"
        }
        appendData(data, to: &out)
        out += "\n"
        return out
    }

    /// A stored event: `id` is its id, `event` its channel (so pages listen per channel),
    /// `data` the JSON envelope (always one line).
    public static func frame(for event: StoredEvent) -> String {
        self.event(id: String(event.id), name: event.channel, data: event.envelope)
    }

    /// A comment line; proxies and clients ignore it, which makes it a keepalive.
    public static func comment(_ text: String) -> String {
        ":" + singleLine(text) + "\n\n"
    }

    /// The reconnection delay the client should use.
    public static func retry(milliseconds: Int) -> String {
        "retry: \(max(0, milliseconds))\n"
    }

    private static func appendData(_ data: String, to out: inout String) {
        // The common case (every envelope): one line, appended whole instead of scalar by scalar.
        if !data.containsByte(where: { $0 == 0x0A || $0 == 0x0D }) {
            out += "data: "
            out += data
            out += "\n"
            return
        }
        var line = Substring.UnicodeScalarView()
        var scalars = data.unicodeScalars[...]
        while let scalar = scalars.popFirst() {
            switch scalar {
            case "\r":
                if scalars.first == "\n" { scalars.removeFirst() }
                fallthrough
            case "\n":
                out += "data: " + String(String.UnicodeScalarView(line)) + "\n"
                line.removeAll(keepingCapacity: true)
            default:
                line.append(scalar)
            }
        }
        out += "data: " + String(String.UnicodeScalarView(line)) + "\n"
    }

    private static func singleLine(_ text: String) -> String {
        guard text.containsByte(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0 }) else { return text }
        return String(text.unicodeScalars.filter { $0 != "\n" && $0 != "\r" && $0 != "\0" }.map(Character.init))
    }
}
