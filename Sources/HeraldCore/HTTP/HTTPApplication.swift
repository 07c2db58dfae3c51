import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

extension HeraldServer {
    /// The HTTP side: the front door every request passes first, then the routes.
    static func makeApplication(runtime: HeraldRuntime, onListening: @escaping @Sendable (Int) async -> Void) throws -> some ApplicationProtocol {
        let server = runtime.config.server
        let authority = TokenAuthority(runtime.config.tokens)
        let register = { (router: Router<HeraldRequestContext>) in
            SessionRoutes(runtime: runtime, authority: authority).register(on: router)
            StreamRoutes(runtime: runtime).register(on: router)
            PublishRoutes(runtime: runtime).register(on: router)
            QueryRoutes(runtime: runtime).register(on: router)
            SeriesRoutes(runtime: runtime).register(on: router)
            StateRoutes(runtime: runtime).register(on: router)
            NotifyRoutes(runtime: runtime).register(on: router)
            PushRoutes(runtime: runtime).register(on: router)
            HealthRoutes(runtime: runtime).register(on: router)
        }
        // HEAD works wherever GET does (the answer without its body).
        let router = Router(context: HeraldRequestContext.self, options: .autoGenerateHeadEndpoints)
        let allowed = CORSAllowList(origins: server.corsOrigins)
        // Middleware applies to the routes registered after it, so the routes' first segments
        // (which static files leave alone) are read from a scratch router first.
        let scratch = Router(context: HeraldRequestContext.self)
        register(scratch)
        router.add(middleware: FrontDoor(
            streams: runtime.streamBudget,
            requests: ConnectionLimits(kind: "requests", maxTotal: server.maxRequests, maxPerClient: server.maxRequestsPerClient),
            clients: ClientAddress(trustedProxies: server.trustedProxies),
            maxBodyBytes: server.maxBodyBytes,
            cors: server.corsOrigins.isEmpty ? nil : allowed,
            // Static files need no token (the page shows its own sign-in); no-cache makes browsers
            // revalidate (ETag), so an upgraded app.js is picked up at once.
            staticFiles: StaticFiles(root: server.webRoot, routes: scratch.routes.map(\.path.description), logger: runtime.logger),
            authenticator: Authenticator(authority: authority, sessions: runtime.store, allowQueryToken: server.allowQueryToken,
                                         forgery: ForgeryCheck(allowed: allowed,
                                                               scheme: server.tlsCertificate == nil ? "http" : "https")),
            logger: runtime.logger))
        register(router)

        let listen = server.listen
        let logger = runtime.logger
        return Application(
            router: router,
            server: try serverBuilder(server),
            // After a restart every open dashboard reconnects at once: a queue of 256 (the
            // default) drops the SYNs of thousands, which retry only after 1 s, 3 s, 7 s. The
            // kernel caps it at net.core.somaxconn (4096 on Debian 12).
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "Herald",
                                 backlog: Self.listenBacklog),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? listen.port
                logger.notice("listening", metadata: ["address": "\(listen.host):\(port)", "tls": "\(server.tlsCertificate != nil)"])
                await onListening(port)
            },
            logger: logger)
    }

    static let listenBacklog = 4096

    /// HTTP/1.1, or with a certificate HTTPS offering HTTP/2 (ALPN), which lifts the browsers'
    /// limit of six connections per origin. Every connection has the same deadlines
    /// (`RequestDeadlines`): the head, the body, the wait for the next request; over TLS also
    /// the handshake (`GuardedTLSChannel`), and for HTTP/2 the connection's idle time.
    static func serverBuilder(_ server: HeraldConfig.Server) throws -> HTTPServerBuilder {
        func time(_ seconds: Double) -> TimeAmount { .milliseconds(Int64(seconds * 1000)) }
        let limits = RequestDeadlines.Limits(head: time(server.headerTimeoutSeconds), body: time(server.bodyTimeoutSeconds),
                                             idle: time(server.idleTimeoutSeconds))
        let headerLimit = server.maxHeaderBytes
        let configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: [RequestDeadlines(limits: limits)],
            httpDecoderConfiguration: .init(maxHeaderFieldSize: headerLimit, maxHeaderListSize: headerLimit))
        guard let certificate = server.tlsCertificate, let key = server.tlsKey else {
            let tasks = TaskGauge(label: "herald_http_connection_tasks")
            return HTTPServerBuilder { responder in
                HeraldHTTP1Channel(responder: responder, configuration: configuration, sendBuffer: server.sendBufferBytes,
                                   tasks: tasks)
            }
        }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain,
                                                               privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            let http2 = HTTP2UpgradeChannel.Configuration(
                idleTimeout: .seconds(server.idleTimeoutSeconds), streamConfiguration: configuration)
            let pending = ConnectionLimits(kind: "handshakes", maxTotal: server.maxHandshakes, maxPerClient: server.maxHandshakesPerClient)
            let handshake = time(server.handshakeTimeoutSeconds)
            return HTTPServerBuilder { responder in
                GuardedTLSChannel(base: try HTTP2UpgradeChannel(tlsConfiguration: tls, configuration: http2, responder: responder),
                                  timeout: handshake, pending: pending)
            }
        } catch {
            throw StartupError(description: "cannot use server.tls (cert \(certificate), key \(key)): \(error)")
        }
    }
}
