"""The archive's pseudonym key: NTD_ARCHIVE_KEY, else a key file in the data directory made
once (atomically, mode 0600) and refused when others may read it. The same key gives the same
pseudonyms in every export; a new key makes earlier exports unlinkable to later ones."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from ntd.config import ConfigError

ENV = "NTD_ARCHIVE_KEY"
KEY_FILE = "archive.key"
MIN_LENGTH = 32


def archive_key(data_dir: Path, environ: dict[str, str] | None = None) -> bytes:
    """The key the archive's seller pseudonyms are made with."""
    given = (os.environ if environ is None else environ).get(ENV)
    if given is not None:
        if len(given) < MIN_LENGTH:
            raise ConfigError(f"{ENV} must be at least {MIN_LENGTH} characters")
        return given.encode()
    return _key_file(data_dir / KEY_FILE)


def _key_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, secrets.token_hex(32).encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(draft, path)  # atomic: of two exports starting together, one key wins
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by others: chmod 600 it (it keys seller pseudonyms)")
    key = path.read_bytes().strip()
    if len(key) < MIN_LENGTH:
        raise ConfigError(f"{path} holds no usable key; delete it to make a new one")
    return key
