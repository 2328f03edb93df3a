"""Keys made in the test, JWTs signed with them, and a real loopback server publishing a JWKS."""

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey


@dataclass
class Signer:
    key: Any
    alg: str

    @property
    def kid(self) -> str:
        return str(self.key.kid)

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.key]).as_dict(private=False))

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return str(
            jwt.encode({"alg": self.alg, "kid": self.kid, **header}, claims, self.key, algorithms=[self.alg])
        )


def ec_signer(kid: str = "ec-1") -> Signer:
    return Signer(ECKey.generate_key("P-384", parameters={"kid": kid}), "ES384")


def rsa_signer(kid: str = "rsa-1") -> Signer:
    return Signer(RSAKey.generate_key(2048, parameters={"kid": kid}), "RS384")


def claims(iss: str, aud: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": iss,
        "sub": iss,
        "aud": aud,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        **overrides,
    }


class JwksServer:
    """Serves `document` at /jwks.json on a free loopback port, in a thread; counts the fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document, self.fetches = document, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps(server.document).encode()
                self.send_response(200 if self.path == "/jwks.json" else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"

    def __enter__(self) -> "JwksServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
