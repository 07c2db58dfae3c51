// libFuzzer target: the YAML configuration loader reports problems, it never crashes, and every
// problem it reports carries a message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    do {
        let config = try ConfigLoader.parse(text)
        precondition(config.server.listen.port >= 0)
    } catch {
        precondition(error.problems.allSatisfy { !$0.message.isEmpty })
    }
    return 0
}
