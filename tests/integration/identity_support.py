"""Real parts for the identity and upload tests: an OIDC issuer's JWKS served over
HTTP by a tiny http.server thread with keys the test generates, tokens the test signs, moto's
S3 server on a free loopback port, and a server fixture with those settings on both modes."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.harness import (
    LiveServer,
    serving,
)

ISSUER = "https://clerk.test.example"
AUDIENCE = "aethex-web"
WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTAxMjM0NTY3ODk="


class SigningKey:
    """A key pair the test made; its public half is in the JWKS under `kid`."""

    def __init__(self, alg: str, kid: str) -> None:
        self.alg = alg
        self.kid = kid
        if alg == "RS256":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key()))
        self.jwk.update({"kid": kid, "use": "sig", "alg": alg})

    def token(self, sub: str, *, iss: str = ISSUER, aud: str | None = AUDIENCE,
              ttl: int = 300, iat: int | None = None, **claims: Any) -> str:
        now = int(time.time()) if iat is None else iat
        body: dict[str, Any] = {"sub": sub, "iss": iss, "iat": now, "nbf": now - 5,
                                "exp": now + ttl, **claims}
        if aud is not None:
            body["aud"] = aud
        return jwt.encode(body, self.private, algorithm=self.alg, headers={"kid": self.kid})


class JwksServer:
    """Serves {"keys": [...]} at /jwks.json; `hits` counts fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                outer.hits += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"

    def publish(self, *keys: SigningKey) -> None:
        self.keys = [k.jwk for k in keys]

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


class MotoS3:
    """moto's S3 API over HTTP on a free loopback port, with a bucket."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.bucket = "avatars-" + uuid.uuid4().hex[:8]

    def __enter__(self) -> MotoS3:
        import boto3

        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                                   aws_access_key_id="test", aws_secret_access_key="test")
        self.client.create_bucket(Bucket=self.bucket)
        # As a deployment would: stored images are public, pending direct uploads are not.
        self.client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::{self.bucket}/images/*"}]}))
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def settings(self) -> dict[str, Any]:
        return {"s3_bucket": self.bucket, "s3_endpoint_url": self.endpoint,
                "s3_region": "us-east-1", "s3_access_key_id": "test",
                "s3_secret_access_key": "test"}


def serve(request: pytest.FixtureRequest, tmp_path: Path,
          **overrides: Any) -> Iterator[LiveServer]:
    """The service on the fixture's mode (embedded or production) with extra settings."""
    with serving(request.param, tmp_path, **overrides) as live:
        yield live


def oidc_settings(jwks: JwksServer) -> dict[str, Any]:
    return {"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE, "oidc_jwks_url": jwks.url,
            "oidc_jwks_refresh_s": 0.5, "clerk_webhook_secret": WEBHOOK_SECRET}
