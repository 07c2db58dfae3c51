import Foundation

/// A run's figures: printed as an aligned table for people, then as one JSON line for scripts.
struct Report {
    enum Value {
        case int(Int)
        case number(Double, digits: Int)
        case text(String)
        case none
    }

    let bench: String
    private var items: [(key: String, label: String, value: Value, unit: String)] = []

    init(bench: String) {
        self.bench = bench
    }

    mutating func add(_ key: String, _ label: String, _ value: Value, _ unit: String = "") {
        items.append((key, label, value, unit))
    }

    mutating func add(_ key: String, _ label: String, _ value: Double?, digits: Int, _ unit: String = "") {
        add(key, label, value.map { .number($0, digits: digits) } ?? .none, unit)
    }

    func print() {
        let width = items.map(\.label.count).max() ?? 0
        Swift.print("herald-bench \(bench)")
        for item in items {
            let text: String
            switch item.value {
            case .int(let value): text = String(value)
            case .number(let value, let digits): text = String(format: "%.\(digits)f", value)
            case .text(let value): text = value
            case .none: text = "n/a"
            }
            Swift.print("  " + item.label.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + text
                        + (item.unit.isEmpty ? "" : " " + item.unit))
        }
        Swift.print(json)
    }

    var json: String {
        var parts = ["\"bench\":\"\(bench)\""]
        for item in items {
            let value: String
            switch item.value {
            case .int(let number): value = String(number)
            case .number(let number, let digits): value = number.isFinite ? String(format: "%.\(digits)f", number) : "null"
            case .text(let text): value = "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            case .none: value = "null"
            }
            parts.append("\"\(item.key)\":\(value)")
        }
        return "{" + parts.joined(separator: ",") + "}"
    }
}

/// The value at `percentile` (0–100) of sorted values.
func percentile(_ sorted: [UInt64], _ percentile: Double) -> UInt64? {
    guard !sorted.isEmpty else { return nil }
    let rank = Int((percentile / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
