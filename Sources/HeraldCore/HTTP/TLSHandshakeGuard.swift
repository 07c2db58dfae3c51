import HummingbirdCore
import HummingbirdHTTP2
import Logging
import Metrics
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// Hummingbird's HTTPS channel (HTTP/2 or HTTP/1.1 by ALPN), with what it lacks against clients
/// that never finish a handshake: a cap on the connections handshaking at once, in all and per
/// address (past either a new one is closed at once), and a deadline for each. Without this a
/// raw TCP connect that says nothing holds a descriptor for ever.
struct GuardedTLSChannel: ServerChildChannel {
    let base: HTTP2UpgradeChannel
    let timeout: TimeAmount
    let pending: PendingHandshakes

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP2UpgradeChannel.Value> {
        let client = ClientAddress.budgetKey(channel.remoteAddress?.ipAddress ?? "unknown")
        guard pending.enter(client) else {
            Counter(label: "herald_http_refused_total", dimensions: [("reason", "handshake_cap")]).increment()
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        let settled = HandshakeDeadline(timeout: timeout, pending: pending, client: client)
        let value = base.setup(channel: channel, logger: logger)
        do {
            // After the TLS handler, which the base has just added: the handshake's completion
            // is an inbound event that only the handlers behind it see.
            let tls = try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            try channel.pipeline.syncOperations.addHandler(settled, position: .after(tls))
        } catch {
            pending.leave(client)
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
        return value
    }

    func handle(value: HTTP2UpgradeChannel.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Connections accepted whose TLS handshake is not done yet, in all and per address, so that
/// one host opening silent connections cannot keep every other client's handshake out.
final class PendingHandshakes: Sendable {
    private struct Counts {
        var total = 0
        var perClient: [String: Int] = [:]
    }

    private let counts = Mutex(Counts())
    let limit: Int
    let limitPerClient: Int

    init(limit: Int, limitPerClient: Int) {
        (self.limit, self.limitPerClient) = (limit, limitPerClient)
    }

    func enter(_ client: String) -> Bool {
        counts.withLock { counts in
            guard counts.total < limit else { return false }
            // A local TLS pass-through proxy brings every client from loopback: only the total applies.
            guard counts.perClient[client, default: 0] < limitPerClient || ClientAddress.isLoopback(client) else { return false }
            counts.total += 1
            counts.perClient[client, default: 0] += 1
            return true
        }
    }

    func leave(_ client: String) {
        counts.withLock { counts in
            counts.total -= 1
            let left = counts.perClient[client, default: 1] - 1
            counts.perClient[client] = left > 0 ? left : nil
        }
    }
}

/// Closes a connection whose handshake does not complete in time; leaves once it has.
final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private enum State { case handshaking(Scheduled<Void>?), done }
    private var state = State.handshaking(nil)
    private let timeout: TimeAmount
    private let pending: PendingHandshakes
    private let client: String

    init(timeout: TimeAmount, pending: PendingHandshakes, client: String) {
        (self.timeout, self.pending, self.client) = (timeout, pending, client)
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
        pending.leave(client)
    }
}
