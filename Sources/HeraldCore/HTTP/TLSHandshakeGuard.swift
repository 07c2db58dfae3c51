import HummingbirdCore
import HummingbirdHTTP2
import Logging
import Metrics
import NIOCore
import NIOSSL
import NIOTLS

/// Hummingbird's HTTPS channel (HTTP/2 or HTTP/1.1 by ALPN), with what it lacks against clients
/// that never finish a handshake: a cap on the connections handshaking at once, in all and per
/// address (past either a new one is closed at once), and a deadline for each. Without this a
/// raw TCP connect that says nothing holds a descriptor for ever. The cap is a budget like the
/// request budgets (`ConnectionLimits`, kind `handshakes`): loopback, where a local TLS
/// pass-through proxy brings every client from, meets only the total.
struct GuardedTLSChannel: ServerChildChannel {
    let base: HTTP2UpgradeChannel
    let timeout: TimeAmount
    let pending: ConnectionLimits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP2UpgradeChannel.Value> {
        let client = ClientAddress.budgetKey(channel.remoteAddress?.ipAddress ?? "unknown")
        let slot: ConnectionLimits.Slot
        do {
            slot = try pending.admit(client)
        } catch {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        let settled = HandshakeDeadline(timeout: timeout, slot: slot)
        let value = base.setup(channel: channel, logger: logger)
        do {
            // After the TLS handler, which the base has just added: the handshake's completion
            // is an inbound event that only the handlers behind it see.
            let tls = try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            try channel.pipeline.syncOperations.addHandler(settled, position: .after(tls))
            try channel.pipeline.syncOperations.addHandler(CloseAfterTheRead(), position: .after(settled))
        } catch {
            slot.free()
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
        return value
    }

    func handle(value: HTTP2UpgradeChannel.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Closes a connection whose handshake does not complete in time; leaves once it has.
final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private enum State { case handshaking(Scheduled<Void>?), done }
    private var state = State.handshaking(nil)
    private let timeout: TimeAmount
    /// The connection's place among those handshaking.
    private let slot: ConnectionLimits.Slot

    init(timeout: TimeAmount, slot: ConnectionLimits.Slot) {
        (self.timeout, self.slot) = (timeout, slot)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        let timer = context.eventLoop.scheduleTask(in: timeout) {
            Counter(label: "herald_http_refused_total", dimensions: [("reason", "handshake")]).increment()
            channel.close(promise: nil)
        }
        state = .handshaking(timer)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if case TLSUserEvent.handshakeCompleted = event {
            finish()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
    }

    private func finish() {
        guard case .handshaking(let timer) = state else { return }
        timer?.cancel()
        state = .done
        slot.free()
    }
}

/// Closes a TLS connection one turn of its event loop after asked, so that what was written just
/// before goes out first. Hummingbird's HTTP/2 connection manager answers the ping of a graceful
/// shutdown with its last GOAWAY (the one naming the last stream served) and closes in the same
/// read, while its flush waits for the end of that read: the close came first, and the GOAWAY
/// never left. Going under the framework is said here, once.
final class CloseAfterTheRead: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        context.eventLoop.assumeIsolated().execute { context.close(mode: mode, promise: promise) }
    }
}
