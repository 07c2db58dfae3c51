// libFuzzer target: the publish body decoder (JSON validation, members, the one-line form).
// Whatever it accepts must stay valid JSON on one line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let json = try? JSONText(validating: bytes) else { return 0 }
    let line = json.singleLine
    precondition(!line.contains("\n") && !line.contains("\r"), "data must fit one SSE line")
    precondition((try? JSONText(validating: Array(line.utf8))) != nil, "the one-line form is still JSON")
    for member in (try? json.objectMembers()) ?? [] {
        _ = member.value.stringValue
        _ = member.value.numberValue
        _ = try? Names.validateKey(member.key)
    }
    _ = try? json.arrayElements()
    return 0
}
