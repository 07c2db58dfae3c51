import Foundation
import NIOCore
import NIOPosix
import NIOSSL

extension SMTPError {
    /// What an error from NIO or NIOSSL, met while waiting for `during`, means for the send.
    static func from(_ error: any Error, during: String, host: String, port: Int) -> SMTPError {
        switch error {
        case let error as SMTPError:
            return error
        case let error as NIOConnectionError:
            return .connectionFailed(host: host, port: port, reason: reason(error))
        case ChannelError.connectTimeout:
            return .connectionFailed(host: host, port: port, reason: "no answer to the connect")
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return .certificateNotTrusted(host: host, reason: "it does not name \(host)")
        case NIOSSLError.handshakeFailed(let cause):
            let text = String(describing: cause)
            if text.contains("EOF during handshake") {
                return .connectionClosed(during: "the TLS handshake", reason: "the server closed the connection")
            }
            if text.contains("CERTIFICATE_VERIFY_FAILED") {
                return .certificateNotTrusted(
                    host: host, reason: "no trusted root signed it (caFile names the roots of a private CA)")
            }
            return .tlsFailed(reason: text)
        case NIOSSLError.uncleanShutdown:
            return .connectionClosed(during: during, reason: "the server closed the connection")
        case let error as NIOSSLError:
            return .tlsFailed(reason: String(describing: error))
        case let error as IOError:
            return .connectionClosed(during: during, reason: String(cString: strerror(error.errnoCode)))
        default:
            return .connectionClosed(during: during, reason: String(describing: error))
        }
    }

    /// "Connection refused" rather than NIO's whole error, for the log line a person reads.
    private static func reason(_ error: NIOConnectionError) -> String {
        let failures = error.connectionErrors.map { failure in
            if let io = failure.error as? IOError { return String(cString: strerror(io.errnoCode)) }
            return String(describing: failure.error)
        }
        if failures.isEmpty { return "the name did not resolve" }
        return Array(Set(failures)).sorted().joined(separator: "; ")
    }
}
