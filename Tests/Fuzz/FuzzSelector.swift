// libFuzzer target: selector parsing and matching on arbitrary text never crash, and a selector
// without wildcards matches exactly its own text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    let parts = text.split(separator: "\n", maxSplits: 1).map(String.init)
    guard let selector = try? Selector(parts.first ?? "") else { return 0 }
    let name = parts.count > 1 ? parts[1] : selector.text
    var captures: [Substring] = []
    let matched = selector.match(name, captures: &captures)
    if !selector.text.contains("+") && !selector.text.contains("#") {
        precondition(matched == (name == selector.text))
    }
    _ = try? Names.validateChannel(name)
    return 0
}
