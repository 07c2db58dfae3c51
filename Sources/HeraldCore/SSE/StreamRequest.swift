/// What a client asked of `GET /sse`: parsed from the query and the `Last-Event-ID` header.
public struct StreamRequest: Sendable {
    public enum Resume: Sendable, Equatable {
        case none
        case after(Int64)
        /// Not a decimal id (empty, `abc`, `-1`, 30 digits): `$reset` (invalid), then as if none.
        case invalid
    }

    public var filter: EventFilter
    public var resume: Resume
    public var replay: Int
    public var snapshot: Bool
    /// The cookie session the stream was opened with, if any: signing out ends the stream.
    public var session: String?

    /// A Last-Event-ID value: only plain decimal digits that fit an Int64 count as an id.
    public static func parseResume(_ header: String?) -> Resume {
        guard let header else { return .none }
        guard !header.isEmpty, header.utf8.count <= 19,
              header.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let id = Int64(header) else { return .invalid }
        return .after(id)
    }
}
