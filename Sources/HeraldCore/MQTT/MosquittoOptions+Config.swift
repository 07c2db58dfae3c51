import Foundation

extension MosquittoOptions {
    /// The connection the `mqtt:` section describes: address, login, TLS.
    init(_ config: HeraldConfig.MQTT, clientID: String) throws {
        self.init(host: config.host, port: config.port, clientID: clientID)
        keepaliveSeconds = config.keepaliveSeconds
        username = config.username
        if let file = config.passwordFile {
            do {
                password = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .newlines)
            } catch {
                throw HeraldServer.StartupError(description: "cannot read mqtt.password_file \(file): \(error.localizedDescription)")
            }
        }
        if config.tls || config.caFile != nil {
            caFile = config.caFile ?? "/etc/ssl/certs/ca-certificates.crt"
        }
    }
}
