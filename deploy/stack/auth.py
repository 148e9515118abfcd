"""Auth: the local stack's signing key, the JWKS Envoy verifies with, and bearer tokens.

`stack up` (Envoy's prepare) creates the key material under `<run_dir>/auth/` once; later
runs reuse it, so tokens stay valid across restarts. `adplatform auth token` mints a token:

    curl -H "authorization: Bearer $(adplatform auth token)" "$ADPLATFORM_ENVOY_URL/v1/campaigns"
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from deploy.stack.errors import StackError
from servers.settings import Settings

ISSUER = "adplatform-local"
AUDIENCE = "adplatform"
ALGORITHM = "RS256"
DEFAULT_SUBJECT = "campaign-manager"
DEFAULT_TTL = timedelta(hours=12)
_KEY_BITS = 2048


def auth_dir(settings: Settings) -> Path:
    """auth_dir holds the stack's key material."""
    return settings.run_dir / "auth"


def private_key_file(settings: Settings) -> Path:
    """private_key_file is the PEM signing key (mode 0600) that mints the stack's tokens."""
    return auth_dir(settings) / "signing-key.pem"


def jwks_file(settings: Settings) -> Path:
    """jwks_file is the public JWKS that Envoy's jwt_authn filter reads (local_jwks)."""
    return auth_dir(settings) / "jwks.json"


def _key_id(public_key: rsa.RSAPublicKey) -> str:
    """_key_id names a key by a digest of its public half, so a new key gets a new kid."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode().rstrip("=")


def _write_private(path: Path, pem: bytes) -> None:
    """_write_private creates path with pem unless it exists; racing creators keep one key."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mkstemp uses 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another creator won: keep its key
            os.link(temporary, path)  # atomic create-if-absent
    finally:
        os.unlink(temporary)


def _load_private(settings: Settings) -> rsa.RSAPrivateKey:
    """_load_private reads the signing key, naming the fix when it is missing or unusable."""
    path = private_key_file(settings)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise StackError(
            f"no signing key at {path}: run `adplatform stack up` first (an Envoy started "
            "before auth existed needs `adplatform stack down` then `stack up`)"
        ) from None
    except ValueError as error:
        raise StackError(f"unreadable signing key at {path}: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise StackError(f"signing key at {path} is not an RSA key")
    return key


def public_jwks(settings: Settings) -> dict[str, Any]:
    """public_jwks is the JWKS document for the stack's signing key."""
    public_key = _load_private(settings).public_key()
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    jwk.pop("key_ops", None)  # RFC 7517 4.3: not alongside "use"
    jwk.update({"kid": _key_id(public_key), "alg": ALGORITHM, "use": "sig"})
    return {"keys": [jwk]}


def ensure_keys(settings: Settings) -> Path:
    """ensure_keys creates the signing key and its JWKS once (idempotent); returns the JWKS file."""
    directory = auth_dir(settings)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_path = private_key_file(settings)
    if not key_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(key_path, pem)
    if key_path.stat().st_mode & 0o077:
        key_path.chmod(0o600)  # a copied key may have come with looser permissions
    document = json.dumps(public_jwks(settings), indent=1)
    path = jwks_file(settings)
    if not path.exists() or path.read_text() != document:
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(document)
        temporary.replace(path)
    return path


def mint_token(
    settings: Settings,
    subject: str = DEFAULT_SUBJECT,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> str:
    """mint_token signs a bearer token for the local stack's campaign-management routes."""
    if ttl <= timedelta(0):
        raise ValueError(f"ttl must be positive, got {ttl}")
    key = _load_private(settings)
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": issued,
        "exp": issued + ttl,
    }
    headers = {"kid": _key_id(key.public_key())}
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers=headers)
