"""Challenge tokens (expiry, binding, constant-time comparison) and token secret sources."""

from __future__ import annotations

import os
import stat
import time

import jwt
import pytest

from liveness_lab.errors import ConfigError
from liveness_lab.service import tokens as tokens_module
from liveness_lab.service.errors import Unauthorized
from liveness_lab.service.settings import Settings
from liveness_lab.service.tokens import TokenSigner, load_token_secret

SECRET = "k" * 40


def test_payload_is_the_originals_plus_iat_and_exp():
    signer = TokenSigner(SECRET, 600)
    issued = signer.issue("abc", now=1_000_000)
    claims = jwt.decode(issued.token, SECRET, algorithms=["HS256"],
                        options={"verify_exp": False, "verify_iat": False})
    assert claims == {"challengeId": "abc", "iat": 1_000_000, "exp": 1_000_600}
    assert issued.expires_at == 1_000_600


def test_round_trip_and_refusals():
    signer = TokenSigner(SECRET, 600)
    token = signer.issue("abc").token
    assert signer.verify(token, "abc")["challengeId"] == "abc"
    with pytest.raises(Unauthorized, match="another challenge"):
        signer.verify(token, "abd")
    with pytest.raises(Unauthorized, match="invalid"):
        signer.verify(token[:-3] + "AAA", "abc")
    with pytest.raises(Unauthorized, match="invalid"):
        TokenSigner("z" * 40, 600).verify(token, "abc")
    for bad in (None, "", 12, "x" * 5000):
        with pytest.raises(Unauthorized):
            signer.verify(bad, "abc")


def test_expired_tokens_are_refused_unless_reading():
    signer = TokenSigner(SECRET, 60)
    token = signer.issue("abc", now=time.time() - 3600).token
    with pytest.raises(Unauthorized, match="expired"):
        signer.verify(token, "abc")
    assert signer.verify(token, "abc", allow_expired=True)["challengeId"] == "abc"


def test_tokens_without_expiry_or_with_another_algorithm_are_refused():
    signer = TokenSigner(SECRET, 60)
    original_style = jwt.encode({"challengeId": "abc"}, SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        signer.verify(original_style, "abc")  # the original's tokens never expired
    unsigned = jwt.encode({"challengeId": "abc", "iat": int(time.time()),
                           "exp": int(time.time()) + 60}, None, algorithm="none")
    with pytest.raises(Unauthorized):
        signer.verify(unsigned, "abc")


def test_the_challenge_id_is_compared_in_constant_time(monkeypatch):
    calls = []
    real = tokens_module.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)
    monkeypatch.setattr(tokens_module.hmac, "compare_digest", spy)
    signer = TokenSigner(SECRET, 60)
    signer.verify(signer.issue("abc").token, "abc")
    assert (b"abc", b"abc") in calls  # the challenge id (PyJWT also checks the signature so)
    assert len(calls) == 2


def test_short_secrets_are_refused():
    with pytest.raises(ConfigError, match="32 bytes"):
        TokenSigner("short", 60)


# -- secret sources -----------------------------------------------------------------------------

def test_secret_from_setting_and_file(tmp_path):
    assert load_token_secret(Settings(token_secret=SECRET)) == SECRET.encode()
    f = tmp_path / "secret"
    f.write_text("f" * 48 + "\n")
    assert load_token_secret(Settings(token_secret_file=f)) == b"f" * 48
    f.write_text("short")
    with pytest.raises(ConfigError, match="at least 32"):
        load_token_secret(Settings(token_secret_file=f))
    with pytest.raises(ConfigError, match="cannot read"):
        load_token_secret(Settings(token_secret_file=tmp_path / "missing"))


def test_generated_secret_is_private_and_persistent(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    first = load_token_secret(settings)
    path = settings.generated_secret_file
    assert len(first) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_token_secret(settings) == first  # a restart signs with the same key
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_token_secret(settings)


def test_secret_from_aws_secrets_manager():
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = client.create_secret(Name="liveness/token", SecretString="m" * 40)["ARN"]
        settings = Settings(token_secret_id=arn, aws_region="eu-west-1")
        assert load_token_secret(settings, secrets_client=client) == b"m" * 40
        assert load_token_secret(settings) == b"m" * 40  # default client, same region
        client.create_secret(Name="liveness/short", SecretString="tiny")
        with pytest.raises(ConfigError, match="at least 32"):
            load_token_secret(Settings(token_secret_id="liveness/short"), secrets_client=client)
        with pytest.raises(ConfigError, match="ResourceNotFoundException"):
            load_token_secret(Settings(token_secret_id="liveness/none"), secrets_client=client)
