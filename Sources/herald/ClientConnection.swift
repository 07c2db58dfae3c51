import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// How `tail` and `channels` reach the server: whom to trust, how long a connect may take.
struct ConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Trust only the CA certificates in this PEM file instead of the system's, as curl does (for a self-signed or private CA).",
        valueName: "file"))
    var cacert: String?
    @Flag(help: "Do not verify the server's certificate at all (a warning says so on stderr).")
    var insecure = false
    @Option(help: ArgumentHelp("Give up a connection attempt after this many seconds.", valueName: "seconds"))
    var connectTimeout: Double = 5

    func validate() throws {
        guard connectTimeout > 0, connectTimeout <= 3600 else {
            throw ValidationError("--connect-timeout must be a number of seconds above 0 and at most 3600")
        }
        if insecure && cacert != nil { throw ValidationError("--insecure skips the check --cacert configures; give one of them") }
    }

    /// Runs `body` with a client made from these options, and shuts the client down after it.
    func withClient<T>(command: String, _ body: (HTTPClient) async throws -> T) async throws -> T {
        let client = try makeClient(command: command)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func makeClient(command: String) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        if insecure {
            tls.certificateVerification = .none
            complain(command, "warning: --insecure: the server's certificate is not verified; anyone between can read and change this connection")
        }
        if let cacert {
            guard FileManager.default.isReadableFile(atPath: cacert) else {
                complain(command, "cannot read --cacert \(cacert): no such file, or not readable")
                throw ExitCode.failure
            }
            guard let certificates = try? NIOSSLCertificate.fromPEMFile(cacert), !certificates.isEmpty else {
                complain(command, "--cacert \(cacert) holds no PEM certificate that loads")
                throw ExitCode.failure
            }
            tls.trustRoots = .certificates(certificates)
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, timeout: .init(connect: .milliseconds(Int64(connectTimeout * 1000))))
        // One attempt per request: by default the pool retries a refused connect behind the
        // request until the request's own deadline (for `tail`, never); the user should hear at once,
        // and `tail` waits `retry` before it asks again.
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }
}

/// One line on stderr, named for the command, so a script's log says who complained.
func complain(_ command: String, _ line: String) {
    FileHandle.standardError.write(Data("herald \(command): \(line)\n".utf8))
}
