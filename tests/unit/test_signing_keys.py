"""The checkpoints' key pair (issue 15, item 2): made 0600 outside the databases, never
overwritten, refused when others can read it; `ntd keys show` prints what verify takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ntd.signing import parse_public
from tests.unit.test_cli import data_dir, error_lines, ok, run  # noqa: F401


def test_keys_init_makes_a_private_file_only_its_owner_reads_and_show_prints_its_public_half(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys" / "signing.key"
    monkeypatch.setenv("NTD_SIGNING_KEY", str(path))
    public = ok("keys", "init").strip()
    assert path.stat().st_mode & 0o777 == 0o600
    assert ok("keys", "show").strip() == public
    parse_public(public)

    again = run("keys", "init")
    assert again.exit_code == 1 and "never overwritten" in error_lines(again)[0]

    path.chmod(0o644)
    shown = run("keys", "show")
    assert shown.exit_code == 1
    [line] = error_lines(shown)
    assert "can be read by others" in line and "chmod 600" in line


def test_keys_show_without_a_key_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NTD_SIGNING_KEY", str(tmp_path / "none.key"))
    result = run("keys", "show")
    assert result.exit_code == 1 and "ntd keys init" in error_lines(result)[0]
