import Hummingbird
import NIOCore

/// The request context of every Herald route: who is asking, and from where.
public struct HeraldRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The connection; a live SSE stream on plain HTTP/1.1 writes to it directly (`LiveStream`).
    let channel: any Channel
    /// Set by `FrontDoor`: a stream handed over to its connection keeps it.
    var connectionSlot: ConnectionLimits.Slot?
    /// Set by `FrontDoor`.
    public var access = Access.everything

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }
}
