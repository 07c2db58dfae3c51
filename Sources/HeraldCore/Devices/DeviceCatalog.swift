/// The devices the sources know, kept by `SourceSet` on the MQTT thread: descriptions and
/// availability, loaded from the store at start so a restart keeps names, units and state.
struct DeviceCatalog: Sendable {
    struct Known: Sendable {
        var description: DeviceDescription
        var availability: Availability
    }

    private(set) var devices: [String: Known] = [:]
    private(set) var countBySource: [String: Int] = [:]

    init(_ records: [DeviceRecord] = []) {
        for record in records {
            set(Known(description: record.description, availability: record.availability))
        }
    }

    subscript(id: String) -> Known? { devices[id] }

    func knows(source: String, device: String) -> Bool { devices[source + "/" + device] != nil }

    func count(of source: String) -> Int { countBySource[source] ?? 0 }

    mutating func set(_ known: Known) {
        let id = known.description.id
        if devices.updateValue(known, forKey: id) == nil { countBySource[known.description.source, default: 0] += 1 }
    }
}
