"""Authentication of creation: API keys, Cognito-style JWTs against a JWKS served on 127.0.0.1,
and the per-client rate limit."""

from __future__ import annotations

import http.server
import json
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from svc_helpers import TestClient, free_port, test_settings

from liveness_lab.service import auth as auth_module
from liveness_lab.service.api import create_app
from liveness_lab.service.auth import ApiKeyAuth, JwtAuth, NoAuth
from liveness_lab.service.errors import RateLimited, ServiceUnavailable, Unauthorized
from liveness_lab.service.ratelimit import RateLimiter

REGION_POOL = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST"
CLIENT_ID = "app-client-123"


class JwksServer:
    """A JWKS document served over HTTP on 127.0.0.1 (what Cognito publishes)."""

    def __init__(self, jwks: dict) -> None:
        body = json.dumps(jwks).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def keys():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk.update(kid="key-1", alg="RS256", use="sig")
    server = JwksServer({"keys": [jwk]})
    yield private, other, server.url
    server.close()


def cognito_token(private, *, kid="key-1", token_use="id", aud=CLIENT_ID, iss=REGION_POOL,
                  exp_in=3600, sub="user-1"):
    now = int(time.time())
    claims = {"sub": sub, "iss": iss, "token_use": token_use, "iat": now, "exp": now + exp_in}
    if token_use == "id":
        claims["aud"] = aud
    else:
        claims["client_id"] = aud
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


def bearer(token):
    return {"authorization": f"Bearer {token}"}


def test_no_auth_is_anonymous():
    assert NoAuth().authenticate({}).id == "anonymous"


def test_api_key_auth(monkeypatch):
    calls = []
    real = auth_module.hmac.compare_digest
    monkeypatch.setattr(auth_module.hmac, "compare_digest",
                        lambda a, b: calls.append(1) or real(a, b))
    auth = ApiKeyAuth(["a" * 20, "b" * 20])
    p = auth.authenticate({"x-api-key": "b" * 20})
    assert p.kind == "api_key" and "b" * 20 not in p.id
    assert len(calls) == 2  # every key compared, in constant time
    assert auth.authenticate(bearer("a" * 20)).kind == "api_key"
    with pytest.raises(Unauthorized, match="required"):
        auth.authenticate({})
    with pytest.raises(Unauthorized, match="invalid"):
        auth.authenticate({"x-api-key": "c" * 20})


def test_cognito_id_and_access_tokens(keys):
    private, other, url = keys
    auth = JwtAuth(url, REGION_POOL, audience=CLIENT_ID)
    assert auth.authenticate(bearer(cognito_token(private))).id == "user-1"
    assert auth.authenticate(bearer(cognito_token(private, token_use="access"))).kind == "jwt"
    strict = JwtAuth(url, REGION_POOL, audience=CLIENT_ID, token_use="id")
    with pytest.raises(Unauthorized, match="id token"):
        strict.authenticate(bearer(cognito_token(private, token_use="access")))


@pytest.mark.parametrize("make, fragment", [
    (lambda p, o: cognito_token(p, exp_in=-120), "expired"),
    (lambda p, o: cognito_token(p, iss="https://evil.example"), "invalid bearer token"),
    (lambda p, o: cognito_token(p, aud="another-client"), "another app client"),
    (lambda p, o: cognito_token(o), "invalid bearer token"),  # signed by another key
    (lambda p, o: cognito_token(p, kid="key-9"), "unknown signing key"),
    (lambda p, o: "not.a.jwt", "invalid bearer token"),
])
def test_bad_jwts_are_refused(keys, make, fragment):
    private, other, url = keys
    auth = JwtAuth(url, REGION_POOL, audience=CLIENT_ID)
    with pytest.raises(Unauthorized, match=fragment):
        auth.authenticate(bearer(make(private, other)))


def test_missing_bearer_and_unreachable_jwks(keys):
    private, _, _ = keys
    auth = JwtAuth(f"http://127.0.0.1:{free_port()}/jwks.json", REGION_POOL)
    with pytest.raises(Unauthorized, match="bearer token is required"):
        auth.authenticate({})
    with pytest.raises(ServiceUnavailable, match="signing keys"):
        auth.authenticate(bearer(cognito_token(private)))


@pytest.mark.parametrize("status, body", [
    (200, b"<html>502 Bad Gateway</html>"),  # an error page: not JSON
    (200, b'{"keys": []}'),                   # no usable key
    (200, b'["not", "an", "object"]'),
    (500, b"{}"),
])
def test_a_jwks_outage_is_a_503_not_a_401(keys, status, body):
    private, _, _ = keys

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        auth = JwtAuth(f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json", REGION_POOL)
        with pytest.raises(ServiceUnavailable) as err:
            auth.authenticate(bearer(cognito_token(private)))
        assert err.value.status == 503 and err.value.retry_after
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_api_authenticates_creation_only(keys, tmp_path):
    private, _, url = keys
    settings = test_settings(tmp_path, auth="jwt", jwt_jwks_url=url, jwt_issuer=REGION_POOL,
                             jwt_audience=CLIENT_ID)
    body = {"imageWidth": 640, "imageHeight": 480}
    with TestClient(create_app(settings)) as client:
        r = client.post("/challenge", json=body)
        assert r.status_code == 401 and "bearer" in r.json()["message"]
        r = client.post("/challenge", json=body, headers=bearer(cognito_token(private,
                                                                              exp_in=-300)))
        assert r.status_code == 401
        r = client.post("/challenge", json=body, headers=bearer(cognito_token(private)))
        assert r.status_code == 200
        ch = r.json()
        # frames and verify are authorized by the challenge token
        r = client.post(f"/challenge/{ch['id']}/verify", json={"token": ch["token"]})
        assert r.status_code == 200


def test_api_key_on_the_api(tmp_path):
    settings = test_settings(tmp_path, auth="api_key", api_keys=("s3cret-key-0123456789",))
    with TestClient(create_app(settings)) as client:
        body = {"imageWidth": 640, "imageHeight": 480}
        assert client.post("/challenge", json=body).status_code == 401
        assert client.post("/challenge", json=body,
                           headers={"X-API-Key": "wrong-key-0123456789"}).status_code == 401
        assert client.post("/challenge", json=body,
                           headers={"X-API-Key": "s3cret-key-0123456789"}).status_code == 200


# -- rate limit -------------------------------------------------------------------------------

def test_token_bucket():
    now = [0.0]
    limiter = RateLimiter(60, 3, clock=lambda: now[0])
    for _ in range(3):
        limiter.acquire("a")
    with pytest.raises(RateLimited) as e:
        limiter.acquire("a")
    assert e.value.retry_after == pytest.approx(1.0)
    limiter.acquire("b")  # per client
    now[0] = 1.0
    limiter.acquire("a")  # one token refilled after a second
    with pytest.raises(RateLimited):
        limiter.acquire("a")
    assert RateLimiter(0, 1).enabled is False


def test_creation_is_rate_limited_per_client_with_429(tmp_path):
    settings = test_settings(tmp_path, create_rate_per_minute=1, create_burst=2)
    with TestClient(create_app(settings)) as client:
        body = {"imageWidth": 640, "imageHeight": 480}
        assert [client.post("/challenge", json=body).status_code for _ in range(3)] == \
            [200, 200, 429]
        r = client.post("/challenge", json=body)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "too many" in r.json()["message"]
