import HummingbirdCore
import HummingbirdHTTP2
import Logging
import Metrics
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// Hummingbird's HTTPS channel (HTTP/2 or HTTP/1.1 by ALPN), with what it lacks against clients
/// that never finish a handshake: at most `maxPending` connections may be handshaking at once
/// (past that a new one is closed at once), and each must finish within `timeout`. Without this
/// a raw TCP connect that says nothing holds a descriptor for ever.
struct GuardedTLSChannel: ServerChildChannel {
    let base: HTTP2UpgradeChannel
    let timeout: TimeAmount
    let pending: PendingHandshakes

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP2UpgradeChannel.Value> {
        guard pending.enter() else {
            Counter(label: "herald_http_refused_total", dimensions: [("reason", "handshake_cap")]).increment()
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        let settled = HandshakeDeadline(timeout: timeout, pending: pending)
        let value = base.setup(channel: channel, logger: logger)
        do {
            // After the TLS handler, which the base has just added: the handshake's completion
            // is an inbound event that only the handlers behind it see.
            let tls = try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            try channel.pipeline.syncOperations.addHandler(settled, position: .after(tls))
        } catch {
            pending.leave()
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
        return value
    }

    func handle(value: HTTP2UpgradeChannel.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Connections accepted whose TLS handshake is not done yet.
final class PendingHandshakes: Sendable {
    private let count = Atomic<Int>(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func enter() -> Bool {
        if count.add(1, ordering: .relaxed).newValue <= limit { return true }
        count.subtract(1, ordering: .relaxed)
        return false
    }

    func leave() { count.subtract(1, ordering: .relaxed) }
}

/// Closes a connection whose handshake does not complete in time; leaves once it has.
final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private enum State { case handshaking(Scheduled<Void>?), done }
    private var state = State.handshaking(nil)
    private let timeout: TimeAmount
    private let pending: PendingHandshakes

    init(timeout: TimeAmount, pending: PendingHandshakes) {
        (self.timeout, self.pending) = (timeout, pending)
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
        pending.leave()
    }
}
