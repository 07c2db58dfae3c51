"""A Web Push service on loopback for Herald's tests: it checks each push the way a real one
does (RFC 8030 headers, RFC 8292 VAPID), independently of Herald's code, and decrypts it
(RFC 8291, with http_ece) as the subscribed browser would.

Usage: push_receiver.py --port N. The first line printed is
{"ready":true,"subscription":{...},"gone":{...}}: two PushSubscription.toJSON() shapes sharing one
key pair, /push/main (201 when a push checks out, 400 with the reason when not) and /push/gone
(always 410, as a push service answers for an expired subscription). Then one JSON line per request.
"""

import argparse
import base64
import json
import threading
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

URGENCIES = {"very-low", "low", "normal", "high"}
MAX_EXP_AHEAD = 24 * 3600  # RFC 8292 §2: no more than 24 hours
MAX_BODY = 4096  # RFC 8030 §7.2: what a push service must take


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Refused(Exception):
    pass


EMIT_LOCK = threading.Lock()


def emit(line):
    # One write per line, under a lock: the server answers on threads, and print's separate
    # write of the newline let two pushes' lines run together.
    with EMIT_LOCK:
        sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
        sys.stdout.flush()


def check_vapid(header, origin):
    """The claims of a valid `vapid t=…, k=…` header for `origin`, else Refused saying why."""
    if not header or not header.startswith("vapid "):
        raise Refused("Authorization is not a vapid scheme: %r" % header)
    params = {}
    for part in header[len("vapid "):].split(","):
        name, _, value = part.strip().partition("=")
        params[name] = value
    if "t" not in params or "k" not in params:
        raise Refused("Authorization lacks t= or k=")
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(params["k"]))
    except (ValueError, TypeError) as e:
        raise Refused("k is not a P-256 public key: %s" % e)
    pieces = params["t"].split(".")
    if len(pieces) != 3:
        raise Refused("t is not a JWT")
    header_json = json.loads(unb64url(pieces[0]))
    if header_json.get("alg") != "ES256":
        raise Refused("JWT alg is %r, not ES256" % header_json.get("alg"))
    raw = unb64url(pieces[2])
    if len(raw) != 64:
        raise Refused("ES256 signature is %d bytes, not 64 (r||s)" % len(raw))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, (pieces[0] + "." + pieces[1]).encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused("JWT signature does not verify with k")
    claims = json.loads(unb64url(pieces[1]))
    if claims.get("aud") != origin:
        raise Refused("aud %r is not the endpoint's origin %r" % (claims.get("aud"), origin))
    exp, now = claims.get("exp"), time.time()
    if not isinstance(exp, int) or exp <= now or exp > now + MAX_EXP_AHEAD:
        raise Refused("exp %r is not in the next 24 hours" % exp)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not (sub.startswith("mailto:") or sub.startswith("https:")):
        raise Refused("sub %r is not a mailto: or https: URL" % sub)
    return claims


def make_handler(private_key, auth_secret, origin):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # stdout carries only the JSON lines
            pass

        def answer(self, status, text=""):
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            name = self.path[len("/push/"):] if self.path.startswith("/push/") else None
            if name not in ("main", "gone"):
                emit({"path": self.path, "ok": False, "error": "no such subscription"})
                return self.answer(404, "no such subscription")
            try:
                line = self.check(body)
            except Refused as e:
                line = {"path": self.path, "ok": False, "error": str(e)}
            except Exception as e:  # a malformed token or body: still the sender's fault
                line = {"path": self.path, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
            emit(line)
            if name == "gone":
                return self.answer(410, "subscription expired")
            if line["ok"]:
                self.send_response(201)
                self.send_header("Location", "/messages/%d" % time.time_ns())
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self.answer(400, line["error"])

        def check(self, body):
            h = self.headers
            if (h.get("Content-Encoding") or "").lower() != "aes128gcm":
                raise Refused("Content-Encoding is %r, not aes128gcm" % h.get("Content-Encoding"))
            ttl = h.get("TTL")
            if ttl is None or not ttl.isdigit():
                raise Refused("TTL is missing or not a number: %r" % ttl)
            urgency = h.get("Urgency")
            if urgency is not None and urgency not in URGENCIES:
                raise Refused("Urgency %r is not one of %s" % (urgency, sorted(URGENCIES)))
            claims = check_vapid(h.get("Authorization"), origin)
            if len(body) > MAX_BODY:
                raise Refused("body is %d bytes, more than %d" % (len(body), MAX_BODY))
            plaintext = http_ece.decrypt(body, private_key=private_key, auth_secret=auth_secret, version="aes128gcm")
            return {"path": self.path, "ok": True, "ttl": int(ttl), "urgency": urgency, "topic": h.get("Topic"),
                    "sub": claims["sub"], "payload": plaintext.decode("utf-8")}

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The Swift test runner starts children with SIGTERM blocked; its ChildProcess.stop() sends one.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    private_key = ec.generate_private_key(ec.SECP256R1())
    auth_secret = os.urandom(16)
    origin = "http://127.0.0.1:%d" % args.port
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(private_key, auth_secret, origin))
    keys = {"p256dh": b64url(private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)),
            "auth": b64url(auth_secret)}
    subscription = lambda name: {"endpoint": "%s/push/%s" % (origin, name), "expirationTime": None, "keys": keys}
    emit({"ready": True, "subscription": subscription("main"), "gone": subscription("gone")})
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
