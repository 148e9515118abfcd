"""Tests for deploy.stack.auth and its wiring: key material, tokens, Envoy's jwt_authn filter."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clients import cli
from deploy.stack import auth, envoy
from deploy.stack.errors import StackError
from servers.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """settings point the run directory at a fresh temporary directory."""
    return Settings(run_dir=tmp_path / "run")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _verify(settings: Settings, token: str) -> dict[str, object]:
    """_verify checks a token the way Envoy does: the JWKS file's key, issuer, audience, expiry."""
    keys = jwt.PyJWKSet.from_json(auth.jwks_file(settings).read_text())
    kid = jwt.get_unverified_header(token)["kid"]
    [key] = [key for key in keys.keys if key.key_id == kid]
    claims: dict[str, object] = jwt.decode(
        token, key, algorithms=["RS256"], audience=auth.AUDIENCE, issuer=auth.ISSUER
    )
    return claims


def test_ensure_keys_creates_a_private_key_and_its_jwks(settings: Settings) -> None:
    jwks = auth.ensure_keys(settings)

    assert jwks == auth.jwks_file(settings) == settings.run_dir / "auth" / "jwks.json"
    assert _mode(auth.private_key_file(settings)) == 0o600
    assert _mode(auth.auth_dir(settings)) & 0o077 == 0
    key = serialization.load_pem_private_key(
        auth.private_key_file(settings).read_bytes(), password=None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    [public] = json.loads(jwks.read_text())["keys"]
    assert public["kty"] == "RSA" and public["alg"] == "RS256" and public["use"] == "sig"
    assert public["kid"]
    assert "d" not in public and "p" not in public  # nothing private in the public file


def test_ensure_keys_is_idempotent(settings: Settings) -> None:
    auth.ensure_keys(settings)
    pem = auth.private_key_file(settings).read_bytes()
    document = auth.jwks_file(settings).read_text()
    token = auth.mint_token(settings)

    auth.ensure_keys(settings)
    auth.ensure_keys(settings)

    assert auth.private_key_file(settings).read_bytes() == pem
    assert auth.jwks_file(settings).read_text() == document
    assert _verify(settings, token)["sub"] == auth.DEFAULT_SUBJECT  # old tokens stay valid


def test_ensure_keys_restores_a_missing_jwks_and_tightens_the_key(settings: Settings) -> None:
    auth.ensure_keys(settings)
    document = auth.jwks_file(settings).read_text()
    auth.jwks_file(settings).unlink()
    auth.private_key_file(settings).chmod(0o644)

    auth.ensure_keys(settings)

    assert auth.jwks_file(settings).read_text() == document
    assert _mode(auth.private_key_file(settings)) == 0o600


def test_token_carries_the_stack_claims(settings: Settings) -> None:
    auth.ensure_keys(settings)
    now = datetime.now(UTC).replace(microsecond=0)

    token = auth.mint_token(settings, subject="alice", ttl=timedelta(hours=2), now=now)

    claims = _verify(settings, token)
    assert claims["iss"] == "adplatform-local" == auth.ISSUER
    assert claims["aud"] == "adplatform" == auth.AUDIENCE
    assert claims["sub"] == "alice"
    assert claims["iat"] == int(now.timestamp())
    assert claims["exp"] == int((now + timedelta(hours=2)).timestamp())
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_default_token_lasts_twelve_hours(settings: Settings) -> None:
    auth.ensure_keys(settings)
    claims = _verify(settings, auth.mint_token(settings))
    assert claims["sub"] == "campaign-manager"
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
    assert claims["exp"] - claims["iat"] == 12 * 3600


def test_expired_token_is_detected(settings: Settings) -> None:
    auth.ensure_keys(settings)
    past = datetime.now(UTC) - timedelta(hours=13)

    token = auth.mint_token(settings, now=past)

    with pytest.raises(jwt.ExpiredSignatureError):
        _verify(settings, token)


def test_token_signed_by_another_key_fails(settings: Settings, tmp_path: Path) -> None:
    auth.ensure_keys(settings)
    other = Settings(run_dir=tmp_path / "other")
    auth.ensure_keys(other)
    forged = jwt.encode(
        jwt.decode(auth.mint_token(other), options={"verify_signature": False}),
        serialization.load_pem_private_key(auth.private_key_file(other).read_bytes(), None),
        algorithm="RS256",
        headers={"kid": jwt.get_unverified_header(auth.mint_token(settings))["kid"]},
    )

    with pytest.raises(jwt.InvalidSignatureError):
        _verify(settings, forged)


def test_mint_token_without_keys_names_the_fix(settings: Settings) -> None:
    with pytest.raises(StackError, match="stack up"):
        auth.mint_token(settings)


def test_mint_token_refuses_a_non_positive_ttl(settings: Settings) -> None:
    auth.ensure_keys(settings)
    with pytest.raises(ValueError, match="ttl"):
        auth.mint_token(settings, ttl=timedelta(0))


def test_envoy_checks_tokens_before_transcoding(settings: Settings) -> None:
    manager = envoy.config(settings)["static_resources"]["listeners"][0]["filter_chains"][0][
        "filters"
    ][0]["typed_config"]
    names = [item["name"] for item in manager["http_filters"]]
    assert names.index("envoy.filters.http.jwt_authn") < names.index(
        "envoy.filters.http.grpc_json_transcoder"
    )
    jwt_config = manager["http_filters"][0]["typed_config"]
    [provider] = jwt_config["providers"].values()
    assert provider["issuer"] == auth.ISSUER
    assert provider["audiences"] == [auth.AUDIENCE]
    assert provider["local_jwks"] == {"filename": str(auth.jwks_file(settings))}
    assert provider["forward"] is False
    assert provider["from_headers"] == [{"name": "Authorization", "value_prefix": "Bearer "}]
    prefixes = {rule["match"]["prefix"] for rule in jwt_config["rules"]}
    assert prefixes == {"/v1/campaigns", "/adplatform.v1.CampaignService/"}
    assert "local_reply_config" in manager  # rejections are JSON like every local reply


def test_envoy_prepare_creates_the_key_material(settings: Settings) -> None:
    part = envoy.Envoy(settings)

    part.prepare()

    assert auth.private_key_file(settings).exists()
    written = json.loads(part.config_file.read_text())
    assert str(auth.jwks_file(settings)) in json.dumps(written)


def test_auth_token_command_prints_only_a_token(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    auth.ensure_keys(settings)
    monkeypatch.setenv("ADPLATFORM_RUN_DIR", str(settings.run_dir))

    status = cli.main(["auth", "token", "--subject", "bob", "--ttl-hours", "0.5"])

    assert status == 0
    output = capsys.readouterr().out
    assert output.count("\n") == 1
    claims = _verify(settings, output.strip())
    assert claims["sub"] == "bob"
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
    assert claims["exp"] - claims["iat"] == 1800


def test_auth_token_command_without_keys_fails_cleanly(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ADPLATFORM_RUN_DIR", str(settings.run_dir))

    assert cli.main(["auth", "token"]) == 1
    assert "stack up" in capsys.readouterr().err
