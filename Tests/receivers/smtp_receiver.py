"""A real SMTP server for Herald's SMTP client tests: aiosmtpd on 127.0.0.1 only.

Prints one JSON line {"ready": true} once listening, then one JSON line per accepted message.
Each message line carries, beside what arrived (`data`, after the server removed the dot-stuffing),
the subject and body as Python's own email package decodes them, so the tests check the client's
RFC 2047 and quoted-printable encoding against an independent decoder.
"""
import argparse
import datetime
import email
import email.policy
import ipaddress
import json
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


# aiosmtpd sets the deprecated Session.login_data itself on every AUTH; the warning is noise in the log.
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def make_certificate(directory):
    """A self-signed certificate for localhost and 127.0.0.1: the test passes it as the trust root."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .sign(key, hashes.SHA256())
    )
    os.makedirs(directory, exist_ok=True)
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


class Handler:
    def __init__(self, fail_first, reject_rcpt, implicit_tls):
        self.failures_left = fail_first
        self.reject_rcpt = reject_rcpt
        self.implicit_tls = implicit_tls

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_rcpt is not None and address == self.reject_rcpt:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.failures_left > 0:
            self.failures_left -= 1
            return "451 4.3.0 try again later"
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        body = parsed.get_content() if not parsed.is_multipart() else None
        emit({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": raw.decode("utf-8", "replace"),
            "tls": self.implicit_tls or session.ssl is not None,
            "auth_user": session.auth_data.login.decode() if session.auth_data else None,
            "subject": str(parsed["subject"]) if parsed["subject"] is not None else None,
            "body": body,
        })
        return "250 2.0.0 accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert-dir", required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--tls-mode", choices=["starttls", "implicit", "none"], default="starttls")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--reject-rcpt")
    parser.add_argument("--auth-exclude", action="append", default=[],
                        help="an AUTH mechanism not to offer (PLAIN, to make the client use LOGIN)")
    args = parser.parse_args()

    context = make_certificate(args.cert_dir)
    handler = Handler(args.fail_first, args.reject_rcpt, args.tls_mode == "implicit")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == args.user and auth_data.password.decode() == args.password
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    # ready_timeout: aiosmtpd's start waits this long for its own test connection (a TLS handshake
    # in implicit mode); its default was too short for a loaded two-core machine running the suite.
    options = dict(hostname="127.0.0.1", port=args.port, server_hostname="localhost", ready_timeout=60)
    if args.user is not None:
        # aiosmtpd sees TLS only when it came by STARTTLS; implicit TLS is TLS from the first byte.
        options.update(authenticator=authenticator, auth_required=True,
                       auth_require_tls=args.tls_mode != "implicit",
                       auth_exclude_mechanism=args.auth_exclude)
    if args.tls_mode == "starttls":
        options.update(tls_context=context, require_starttls=True)
    elif args.tls_mode == "implicit":
        options.update(ssl_context=context)
    # The test process starts its children with most signals blocked, so a handler would never
    # run: block SIGTERM and SIGINT here too (aiosmtpd's thread inherits that) and wait for them.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    controller = Controller(handler, **options)
    controller.start()
    emit({"ready": True})
    signal.sigwait(stop_signals)
    controller.stop()


if __name__ == "__main__":
    main()
