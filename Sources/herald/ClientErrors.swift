import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
import NIOPosix
import NIOSSL

/// A failed request to `url` as one line for a person at a terminal: the status and the server's
/// message, or why no connection was made, never a page of markup or a nested error dump.
func failureLine(_ error: any Error, url: String) -> String {
    switch error {
    case let answer as SSEClientError:
        return "\(answer.status) \(answer.reason) from \(url)" + (answer.message.map { ": " + $0 } ?? "")
    case let error as HTTPClientError where error == .connectTimeout:
        return "cannot connect to \(url): no answer within the connect timeout"
    case ChannelError.connectTimeout:
        return "cannot connect to \(url): no answer within the connect timeout"
    case let error as NIOConnectionError:
        if let dns = error.dnsAError ?? error.dnsAAAAError { return "cannot resolve the host of \(url): \(collapsed(dns))" }
        var reasons: [String] = []
        for failure in error.connectionErrors where !reasons.contains(reason(failure.error)) { reasons.append(reason(failure.error)) }
        return "cannot connect to \(url): " + (reasons.isEmpty ? "no address to try" : reasons.joined(separator: "; "))
    case let error as IOError:
        return "cannot connect to \(url): \(reason(error))"
    case is NIOSSLError, is NIOSSLExtraError:
        return "TLS with \(url) failed: \(tlsReason(error))"
    case let error as HTTPClientError:
        return "request to \(url) failed: \(error.shortDescription.lowercased())"
    default:
        return "request to \(url) failed: \(collapsed(error))"
    }
}

private func reason(_ error: any Error) -> String {
    if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
    if case ChannelError.connectTimeout = error { return "no answer within the connect timeout" }
    return collapsed(error)
}

private func tlsReason(_ error: any Error) -> String {
    let text = String(describing: error)
    if text.contains("CERTIFICATE_VERIFY_FAILED") {
        return "the server's certificate is not signed by a trusted CA (--cacert FILE trusts yours; --insecure skips the check)"
    }
    if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
        return "the server's certificate is not for this host name"
    }
    return collapsed(error)
}

/// An error's description with its whitespace collapsed, cut to 200 characters.
private func collapsed(_ error: any Error) -> String {
    let line = String(describing: error).split(whereSeparator: \.isWhitespace).joined(separator: " ")
    return line.count <= 200 ? line : String(line.prefix(199)) + "…"
}
