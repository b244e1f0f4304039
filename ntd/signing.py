"""The checkpoints' Ed25519 key pair and the signed checkpoint itself.

The private half is a PEM file outside every database (NTD_SIGNING_KEY), created 0600 and
refused when others may read it; the public half is printed as `ed25519:<base64 of its 32
bytes>`, which is what a third party is given to check a checkpoint offline."""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "ed25519:"


class SigningKeyError(ValueError):
    """A key file that is missing, unsafe or not a key."""


def public_text(key: Ed25519PublicKey) -> str:
    """The public key as one line: `ed25519:` and the base64 of its 32 raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PREFIX + base64.b64encode(raw).decode()


def parse_public(text: str) -> Ed25519PublicKey:
    """A public key from its line (or a file holding the line, or a PEM file)."""
    candidate = Path(text)
    if not text.startswith(PREFIX) and candidate.is_file():
        text = candidate.read_text(encoding="utf-8").strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise SigningKeyError("the public key is not an Ed25519 key")
        return key
    if not text.startswith(PREFIX):
        raise SigningKeyError(
            f"a public key is `{PREFIX}BASE64` (as `ntd keys show` prints), or its file"
        )
    try:
        return Ed25519PublicKey.from_public_bytes(
            base64.b64decode(text[len(PREFIX) :], validate=True)
        )
    except (ValueError, binascii.Error):
        raise SigningKeyError("the public key is not 32 bytes of base64 after `ed25519:`") from None


def create_key(path: Path) -> Ed25519PrivateKey:
    """A new key pair, its private half written to `path` (0600, never over a file there)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise SigningKeyError(f"{path} exists already: a key is never overwritten") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return key


def load_key(path: Path) -> Ed25519PrivateKey:
    """The private key at `path`; refused if missing, readable by others, or not Ed25519."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SigningKeyError(f"no signing key at {path} (make one with `ntd keys init`)") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(
            f"{path} can be read by others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError:
        raise SigningKeyError(f"{path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key")
    return key


@dataclass(frozen=True)
class Checkpoint:
    """The head of the store's chain at a position, when, signed."""

    position: int
    head: str
    """The link at `position`, in hex."""
    at: str
    """When it was signed, in the form of the links' `recorded_at`."""
    public_key: str
    signature: str
    """base64 of the Ed25519 signature of `message()`."""

    def message(self) -> bytes:
        """What is signed: `ntd checkpoint v1`, the position, the head and the time, one a line."""
        return f"ntd checkpoint v1\n{self.position}\n{self.head}\n{self.at}".encode()

    def valid(self, key: Ed25519PublicKey) -> bool:
        """Whether the signature is this checkpoint's, by `key`."""
        try:
            key.verify(base64.b64decode(self.signature), self.message())
        except (InvalidSignature, ValueError, binascii.Error):
            return False
        return True

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def sign(key: Ed25519PrivateKey, position: int, head: bytes, at: str) -> Checkpoint:
    """A checkpoint of `head` at `position`, signed now by `key`."""
    unsigned = Checkpoint(position, head.hex(), at, public_text(key.public_key()), "")
    signature = base64.b64encode(key.sign(unsigned.message())).decode()
    return Checkpoint(position, head.hex(), at, unsigned.public_key, signature)
