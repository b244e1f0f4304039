"""Reading what a person hands ntd (a notice file, JSON on stdin, a certificate, a holidays
file) within limits: never more bytes than configured, text that must be UTF-8, JSON that
cannot exhaust the interpreter. Each problem is an `InputError` naming the input."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

CHUNK = 1 << 16
"""Bytes read at a time when hashing: a certificate is never held whole."""


class InputError(ValueError):
    """An input ntd will not read: too large, not UTF-8, not JSON it can hold."""


def read_capped(stream: BinaryIO, limit: int, name: str) -> bytes:
    """At most `limit` bytes of the stream, or InputError: reading one byte more is how a
    device or a FIFO (/dev/zero) given as a file is stopped instead of read without end."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{name} is larger than {limit:,} bytes (NTD_MAX_INPUT_BYTES)")
    return data


def read_file(path: Path | str, limit: int, name: str | None = None) -> bytes:
    """A file's bytes, at most `limit`; OSError is left to the caller, which names the file."""
    with _open(path) as stream:
        return read_capped(stream, limit, name or str(path))


def _open(path: Path | str) -> BinaryIO:
    """A file opened for reading without waiting: opening a named pipe no one writes to would
    block for ever, so it is opened non-blocking, then read as usual (a pipe with no writer
    reads as empty at once; `<(command)` has its writer and is read to its end)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def decode(data: bytes, name: str) -> str:
    """Bytes as UTF-8 text (a leading byte-order mark is dropped), or InputError naming where
    the first byte that is not UTF-8 sits."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{name} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


def parse_json(text: str, name: str) -> Any:
    """JSON text as Python data; nesting deeper than the interpreter's stack and numbers of
    more digits than Python converts are refused like any other JSON that is not valid."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{name} is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise InputError(f"{name} is not JSON ntd reads: nested too deeply") from None
    except ValueError as error:  # e.g. an integer beyond sys.get_int_max_str_digits()
        raise InputError(f"{name} is not JSON ntd reads: {error}") from None


def sha256_of(path: Path | str, limit: int) -> str:
    """The SHA-256 of a file, read in chunks; a file beyond `limit` bytes (a device that never
    ends) is refused."""
    digest, size = hashlib.sha256(), 0
    with _open(path) as stream:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise InputError(
                    f"{path} is larger than {limit:,} bytes (NTD_MAX_CERTIFICATE_BYTES)"
                )
            digest.update(chunk)
    return digest.hexdigest()
