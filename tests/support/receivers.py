"""Real delivery endpoints on loopback: a webhook receiver that checks signatures, and an SMTP inbox."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading


class Receiver:
    """A real HTTP webhook receiver on loopback that checks signatures and counts deliveries."""

    def __init__(self, secret: str, port: int = 0):
        self.secret, self.received = secret, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(outer.secret.encode(), body, hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(expected, self.headers.get("X-Nectarine-Signature", ""))
                if ok:
                    outer.received.append((self.headers["X-Nectarine-Delivery-Id"], json.loads(body)))
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(envelope)
        return "250 OK"
