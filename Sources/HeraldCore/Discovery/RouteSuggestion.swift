/// Routes that would take topics nothing takes yet: topics alike but for some segments become one
/// filter with `+` there and those segments in the key; a JSON payload with numbers suggests
/// readings.
enum RouteSuggestion {
    static func yaml(for topics: [String: [UInt8]]) -> String {
        var groups: [String: [[Substring]]] = [:]  // shape (first/count/last) → topics
        for topic in topics.keys.sorted() {
            let segments = topic.split(separator: "/", omittingEmptySubsequences: false)
            groups["\(segments.first ?? "")|\(segments.count)|\(segments.last ?? "")", default: []].append(segments)
        }
        var out = ""
        for shape in groups.keys.sorted() {
            let members = groups[shape]!
            let first = members[0]
            var filter: [String] = [], plus = 0, key: [String] = []
            for index in first.indices {
                if members.allSatisfy({ $0[index] == first[index] }) {
                    filter.append(String(first[index]))
                } else {
                    plus += 1
                    filter.append("+")
                    key.append("{\(plus)}")
                }
            }
            let channel = channelName(String(first[0]))
            var line = "  - { topic: \"\(filter.joined(separator: "/"))\", channel: \(channel)"
            if !key.isEmpty { line += ", key: \"\(key.joined(separator: "/"))\"" }
            let sample = topics[first.joined(separator: "/")] ?? []
            let numbers = numericFields(sample)
            if !numbers.isEmpty {
                line += ", readings: { " + numbers.prefix(8).map { "\($0.replacingOccurrences(of: ".", with: "_")): \($0)" }.joined(separator: ", ") + " }"
            }
            out += line + " }\n"
        }
        return out
    }

    /// Dotted paths of the numbers in a JSON object (two levels deep).
    static func numericFields(_ payload: [UInt8]) -> [String] {
        guard let members = try? JSONText(validating: payload).objectMembers() else { return [] }
        var paths: [String] = []
        for (name, value) in members {
            if value.numberValue != nil { paths.append(name) }
            else if let inner = try? value.objectMembers() {
                paths += inner.filter { $0.value.numberValue != nil }.map { name + "." + $0.key }
            }
        }
        return paths.filter { !$0.contains(" ") && !$0.contains(":") }
    }

    static func channelName(_ segment: String) -> String {
        let cleaned = String(segment.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
        return cleaned.isEmpty || cleaned.hasPrefix("$") ? "unsorted" : cleaned
    }
}
