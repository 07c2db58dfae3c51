import Foundation

/// Turns an MQTT payload into the JSON `data` of an event (DESIGN §5): JSON stays JSON (on one
/// line, otherwise byte for byte), other UTF-8 text becomes a JSON string, and anything else
/// becomes `{"base64": "…"}`.
public enum PayloadNormalizer {
    public static func json(for payload: [UInt8]) -> String {
        if let json = try? JSONText(validating: payload) {
            return json.singleLine
        }
        if let text = String(validating: payload, as: UTF8.self) {
            return JSONText.quoted(text)
        }
        return "{\"base64\":\"" + Data(payload).base64EncodedString() + "\"}"
    }
}
