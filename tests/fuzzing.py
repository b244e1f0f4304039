"""Hostile inputs, generated: the CLI's command tree walked into hypothesis strategies, a
runner that forks a warm interpreter per input (with a timeout and caps on memory and files),
digests of the embedded stores, and the properties every answer must have.

Used by tests/unit/test_fuzz_cli.py (a short run) and scripts/fuzz (the full run, ≥ 10,000
inputs). Nothing here names a command: the commands, their options and argument types come
from `ntd.cli.cli`, the environment variables from the code and its tables (`ntd.config.VARIABLES`
and the like), so a new command, option or variable is fuzzed without editing this file. Names
of parameters only pick which real ids and texts of the seeded store are likely to get a command
past its first check. tests/fuzzing_api.py does the same for the HTTP API from its OpenAPI
document.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import functools
import hashlib
import importlib
import io
import json
import os
import pkgutil
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import click
from hypothesis import strategies as st

# -- the command tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A command to run, with every group on the way to it (their options count too)."""

    path: tuple[str, ...]
    chain: tuple[click.Command, ...]

    @property
    def name(self) -> str:
        return " ".join(self.path) or "(root)"

    @property
    def leaf(self) -> click.Command:
        return self.chain[-1]


def walk(group: click.Group) -> list[Command]:
    """Every command under `group` that is not itself a group, as click lists them."""
    found: list[Command] = []

    def visit(node: click.Group, path: tuple[str, ...], chain: tuple[click.Command, ...]) -> None:
        ctx = click.Context(node, info_name=path[-1] if path else "ntd")
        for name in node.list_commands(ctx):
            sub = node.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            if isinstance(sub, click.Group):
                visit(sub, (*path, name), (*chain, sub))
            else:
                found.append(Command((*path, name), (*chain, sub)))

    visit(group, (), (group,))
    return found


RUNS_UNTIL_STOPPED = {("serve",), ("relay",), ("consume",), ("events", "tail"), ("demo",)}
"""Commands that run until stopped or, given a large size, for minutes: still running when the
timeout comes is no finding for them (a traceback before it still is)."""


def runs_until_stopped(command: Command) -> bool:
    return command.path in RUNS_UNTIL_STOPPED


# -- hostile values --------------------------------------------------------------------------

EX = "@EX@"
"""Stands for the example's own directory in generated paths; the runner substitutes it."""

CATEGORIES = (
    "valid",
    "non-utf8",
    "deep-json",
    "huge-number",
    "device",
    "bad-store",
    "unknown-dsn",
    "time-limit",
    "control",
    "unicode-norm",
    "invisible",
    "long",
    "empty",
    "uuid",
)
"""The kinds of input issue 16 names; each generated value is tagged with one."""

CONTROL = [
    "\x1b[31mred\x1b[0m",
    "\x1b]0;owned\x07",
    "\x1b[2J\x1b[H",
    "L-1\x1b[8m",
    "a\rb",
    "back\x08\x08\x08",
    "del\x7f",
    "\u202eevil.exe",
    "two\nlines",
    "\x9b31m",
    "bell\x07",
]
NORMALISATION = [
    "Caf\u00e9",
    "Cafe\u0301",
    "\u00c5ngstr\u00f6m",
    "A\u030angstro\u0308m",
    "\ufb01le",
]
INVISIBLE = [
    "\u200b",
    "\u200b\u200c\u200d",
    " ",
    "   ",
    "\t",
    "\u3000",
    "\ufeff",
    "\u2060",
    "\u00a0",
]
HUGE = [
    str(2**63),
    str(2**64),
    str(-(2**63) - 1),
    "9" * 30,
    "9" * 5000,
    "-" + "9" * 5000,
    "1e400",
    "-1e400",
    "nan",
    "inf",
    "0x10",
    "1_000",
    "-0",
    "٣",
]
TIMES = [
    "0001-01-01",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-14:00",
    "9999-12-31",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59.999999-14:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59+23:59",
    "1970-01-01",
    "1969-12-31T23:59:59Z",
    "1999-12-31T23:59:59Z",
    "2200-01-01",
    "2026-02-30",
    "2026-13-01",
    "10000-01-01",
    "-0001-01-01",
    "2026-01-01T24:00",
    "2026-01-01T00:00:00+24:00",
    " 2026-11-28T09:00Z ",
    "2026-11-28T09:00Z",
    "2026-W48-6",
    "20261128",
]
DSNS = [
    "mysql://ntd:ntd@127.0.0.1:1/ntd",
    "redis://127.0.0.1:1/0",
    "sqlite://",
    "sqlite:///",
    "sqlite:///@EX@/files/dir",
    "sqlite:///@EX@/files/garbage.db",
    "sqlite:////dev/null",
    "sqlite:///@EX@/nowhere/deeper/read.db",
    "postgresql://ntd:ntd@127.0.0.1:1/ntd_fuzz",
    "postgresql://127.0.0.1:1/",
    "postgresql://ntd@[::1]:1/x",
    "postgresql://:99999999999/x",
    "postgres://",
    "://",
    "file:///etc/passwd",
    "",
]
"""Never a reachable server: PostgreSQL only on port 1 of the loopback (refused at once)."""

FILES = {
    "notice.json": "a valid notice of the seeded store",
    "notice-latin1.json": "the valid notice with a byte that is not UTF-8",
    "notice-bom.json": "the valid notice after a UTF-8 byte-order mark",
    "notice-control.json": "the valid notice, a listing id with an escape sequence",
    "notice-nfd.json": "the valid notice, listing id in NFD",
    "notice-bignum.json": "the valid notice with numbers beyond 64 bits and Python's digit limit",
    "notice-many.json": "300 listings with 300 evidence items each",
    "deep-array.json": "100,000 nested arrays",
    "deep-object.json": "50,000 nested objects",
    "bignum.json": "a number of 5,000 digits",
    "nul.bin": "NUL bytes",
    "binary.bin": "bytes that are not text",
    "empty": "nothing",
    "certificate.pdf": "a small certificate",
    "garbage.db": "a file that is not a database",
    "holidays.txt": "holidays near the limits of dates",
    "dir": "a directory",
    "fifo": "a FIFO nobody writes to",
}
"""The files every example gets in EX/files (fresh per example: a command may write)."""

DEVICES = ["/dev/zero", "/dev/urandom", "/dev/null", "/dev/full", "/proc/self/mem", "/"]


def _fsdecoded(raw: bytes) -> str:
    """Bytes as Python hands them over from argv or the environment (surrogateescape)."""
    return os.fsdecode(raw.replace(b"\x00", b""))


Kinds = dict[str, st.SearchStrategy[str]]
"""Hostile texts by category."""


def text_kinds() -> Kinds:
    """Text of each hostile kind that fits a command line or a variable (neither holds NUL)."""
    return {
        "non-utf8": st.binary(min_size=1, max_size=12).map(lambda b: _fsdecoded(b + b"\xff")),
        "control": st.sampled_from(CONTROL),
        "unicode-norm": st.sampled_from(NORMALISATION),
        "invisible": st.sampled_from(INVISIBLE),
        "long": st.sampled_from(["x" * 5001, "x" * 70_000, "\u00e9" * 40_000]),
        "empty": st.just(""),
        "huge-number": st.sampled_from(HUGE),
        "time-limit": st.sampled_from(TIMES),
        "uuid": uuids(),
        "deep-json": st.sampled_from(["[" * 5000, '{"a":' * 2000 + "1" + "}" * 2000]),
    }


def uuids() -> st.SearchStrategy[str]:
    """Valid-looking ids that name nothing in the store, spelled every way UUID accepts."""
    return st.builds(uuid4).flatmap(
        lambda u: st.sampled_from(
            [
                str(u),
                str(u).upper(),
                "{" + str(u) + "}",
                f"urn:uuid:{u}",
                u.hex,
                f" {u} ",
                "00000000-0000-0000-0000-000000000000",
                "ffffffff-ffff-ffff-ffff-ffffffffffff",
            ]
        )
    )


def _kit(*names: str) -> list[str]:
    return [f"{EX}/files/{name}" for name in names]


def file_kinds() -> Kinds:
    """Paths of each hostile kind: the kit's files, devices, a FIFO, a directory."""
    return {
        "non-utf8": st.sampled_from(_kit("notice-latin1.json", "binary.bin")),
        "deep-json": st.sampled_from(_kit("deep-array.json", "deep-object.json")),
        "huge-number": st.sampled_from(_kit("bignum.json", "notice-bignum.json")),
        "control": st.sampled_from(_kit("notice-control.json")),
        "unicode-norm": st.sampled_from(_kit("notice-nfd.json")),
        "long": st.sampled_from(_kit("notice-many.json")),
        "empty": st.sampled_from([*_kit("empty", "nul.bin"), ""]),
        "device": st.sampled_from([*DEVICES, *_kit("fifo", "dir"), f"{EX}/no/such"]),
    }


def param_kinds(param: click.Parameter) -> Kinds:
    """The hostile kinds particular to a parameter's click type (any text fits any type too:
    see text_kinds)."""
    kind = param.type
    type_name = getattr(kind, "name", "").upper()
    if isinstance(kind, click.Choice):
        choices = st.sampled_from([str(c) for c in kind.choices])
        return {
            "unicode-norm": choices.map(lambda c: c + "\u0301"),
            "control": choices.map(lambda c: c + "\x1b[0m"),
            "invisible": choices.map(lambda c: c + "\u200b"),
        }
    if isinstance(kind, click.IntRange | click.FloatRange) or kind in (click.INT, click.FLOAT):
        edges = [getattr(kind, "min", None), getattr(kind, "max", None)]
        near = [str(v + d) for v in edges if isinstance(v, int | float) for d in (-1, 0, 1)]
        return {"huge-number": st.sampled_from(HUGE + near)}
    if isinstance(kind, click.Path) and not kind.file_okay:
        return {"bad-store": st.sampled_from(DIRS)}
    if isinstance(kind, click.Path | click.File):
        return file_kinds()
    if type_name == "ID":
        return {"uuid": uuids()}
    if type_name == "TIME":
        return {"time-limit": st.sampled_from(TIMES)}
    if type_name == "KIND:ID":
        prefix = st.sampled_from(["agent:", "notifier_user:", "seller:", "system:", "AGENT:", ":"])
        return {
            category: st.tuples(prefix, text).map("".join)
            for category, text in text_kinds().items()
        }
    return {}


DIRS = [*_kit("dir", "empty", "garbage.db"), "/dev/null", "/", f"{EX}/new/dir", "relative"]
"""Data directories that are not one: a file, a device, the root, one to be made."""


# -- the seeded store's names ----------------------------------------------------------------


@dataclass
class Pools:
    """Real names in the seeded store: ids of each kind, notifier names, sellers, actors."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)
    actors: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    """An API token of each actor (agent:root's among them)."""

    def ids_for(self, name: str) -> list[str]:
        """The ids a parameter named `name` is likely to take (every id when unsure)."""
        for key, values in self.ids.items():
            if key in name and values:
                return values
        return [v for values in self.ids.values() for v in values]

    def texts_for(self, name: str) -> list[str]:
        for key, values in self.texts.items():
            if key in name and values:
                return values
        return self.texts.get("*", ["A plain value, long enough for any explanation ntd asks."])


ROOT = "agent:root"
"""The seeded store's all-roles actor, so a generated command gets past the permission check."""


def _valid(param: click.Parameter, pools: Pools) -> st.SearchStrategy[str]:
    """A value the command should accept (or refuse for a reason of the store's state)."""
    kind = param.type
    name = param.name or ""
    type_name = getattr(kind, "name", "").upper()
    if isinstance(kind, click.Choice):
        return st.sampled_from([str(c) for c in kind.choices])
    if isinstance(kind, click.IntRange | click.FloatRange) or kind in (click.INT, click.FLOAT):
        low = getattr(kind, "min", None)
        high = getattr(kind, "max", None)
        low = 0 if low is None else low
        high = low + 50 if high is None else min(high, low + 50)
        if isinstance(kind, click.FloatRange) or kind is click.FLOAT:
            return st.floats(min_value=low, max_value=high).map(lambda f: f"{f:.3f}")
        return st.integers(min_value=low, max_value=high).map(str)
    if isinstance(kind, click.Path) and not kind.file_okay:
        return st.just(f"{EX}/data")
    if isinstance(kind, click.Path | click.File):
        if any("cert" in o for o in param.opts) or "cert" in name:
            return st.sampled_from(_kit("certificate.pdf"))
        return st.sampled_from(
            [*_kit("notice.json"), "-"] if isinstance(kind, click.File) else _kit("notice.json")
        )
    if type_name == "ID":
        return st.sampled_from(pools.ids_for(name) or [str(uuid4())])
    if type_name == "KIND:ID":
        return (
            st.sampled_from([ROOT, ROOT, ROOT, *pools.actors])
            if name == "actor"
            else (st.sampled_from([*pools.actors, ROOT, "agent:newcomer"]))
        )
    if type_name == "TIME":
        return _near_now()
    return st.sampled_from(pools.texts_for(name))


def _near_now() -> st.SearchStrategy[str]:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(microsecond=0)
    return st.integers(min_value=-200, max_value=200).map(
        lambda d: (now + timedelta(days=d)).isoformat()
    )


# -- one invocation --------------------------------------------------------------------------

STORES = {
    "seeded": "a copy of the seeded store",
    "fresh": "a directory that does not exist yet",
    "events-garbage": "events.db is not a database",
    "events-dir": "events.db is a directory",
    "events-truncated": "events.db cut in half",
    "events-empty": "events.db is an empty file",
    "read-garbage": "read.db is not a database",
    "read-dir": "read.db is a directory",
    "data-is-file": "the data directory is a regular file",
}


@dataclass(frozen=True)
class Invocation:
    """One generated run of a command: argv, environment, stdin and the store it meets."""

    command: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    stdin: bytes
    store: str
    categories: frozenset[str]

    def shell(self, width: int = 60) -> str:
        """A reproducer for a shell (long values shortened)."""

        def short(text: str) -> str:
            if len(text) > width:
                text = f"{text[: width // 2]}…({len(text)} chars)"
            return text if re.fullmatch(r"[\w@%+=:,./-]+", text) else repr(text)

        env = "".join(f"{k}={short(v)} " for k, v in self.env)
        shown = self.stdin.decode("utf-8", "backslashreplace")
        stdin = f" <<< {short(shown)}" if self.stdin else ""
        where = f"[store: {self.store}] " if self.store != "seeded" else ""
        return f"{where}{env}ntd {' '.join(short(a) for a in self.argv)}{stdin}"

    def replace(self, **changes: Any) -> Invocation:
        return dataclasses.replace(self, **changes)


STDIN: dict[str, list[bytes]] = {
    "non-utf8": [b'{"explanation": "caf\xe9 \xff\xfe"}\n', bytes(range(256))],
    "deep-json": [b"[" * 100_000, b'{"a":' * 50_000],
    "huge-number": [b'{"listings": ' + b"9" * 5000 + b"}", b"1" + b"0" * 5000],
    "control": [b"\x1b[31m\x00\x07\n"],
    "empty": [b""],
}
"""What stdin holds when it is the hostile part."""

NOTICE = b"@NOTICE@"
"""Stands for the seeded store's valid notice on stdin (a file parameter given `-`)."""


PACKAGES = ("ntd", "consumers", "projections", "domain")
"""The project's code, searched for the variables it reads."""


@functools.cache
def environment_variables() -> dict[str, str]:
    """The variables ntd reads, with what they hold: every `"NTD_…"` name in the code (so one
    read without a table entry is fuzzed too), described by the tables that document them
    (ntd.config.VARIABLES, and any other module's `…VARIABLES`) and by options' envvar help."""
    import ntd.web.app  # noqa: F401 - its settings module holds the portal's table
    from ntd.cli import cli
    from ntd.config import VARIABLES

    found: dict[str, str] = dict(VARIABLES)
    for module_name, module in list(sys.modules.items()):
        if module_name.split(".")[0] not in PACKAGES:
            continue
        for attribute, value in list(vars(module).items()):
            if attribute.endswith("VARIABLES") and isinstance(value, dict):
                found.update({k: str(v) for k, v in value.items() if str(k).startswith("NTD_")})
    for command in walk(cli):
        for node in command.chain:
            for param in node.params:
                envvar = getattr(param, "envvar", None)
                for name in [envvar] if isinstance(envvar, str) else list(envvar or []):
                    found.setdefault(name, getattr(param, "help", None) or "")
    root = Path(__file__).resolve().parents[1]
    for package in PACKAGES:
        for source in (root / package).rglob("*.py"):
            for name in re.findall(r"[\"'](NTD_[A-Z0-9_]+)[\"']", source.read_text()):
                found.setdefault(name, "")
    return found


def variable_kinds(name: str, meaning: str) -> Kinds:
    """The hostile kinds particular to an environment variable, from what its description
    says it holds: a DSN, a directory, a file, a time, dates, JSON, a number, Kafka."""
    text = meaning.lower()
    kinds: Kinds = {}
    if name.endswith("_DSN") or "dsn" in text:
        kinds["unknown-dsn"] = st.sampled_from(DSNS)
    if name.endswith("_DIR"):
        kinds["bad-store"] = st.sampled_from(DIRS)
    if name.endswith("_FILE") or " file" in text:
        kinds.update(file_kinds())
    if "iso time" in text or name.endswith("_NOW"):
        kinds["time-limit"] = st.sampled_from(TIMES)
    if "iso date" in text:
        kinds["time-limit"] = st.lists(st.sampled_from(TIMES), min_size=1, max_size=3).map(" ".join)
    if "json" in text:
        kinds["deep-json"] = st.sampled_from(["[" * 100_000, '{"a":' * 5000])
        big = ['{"counter_notice_days": ' + "9" * 5000 + "}", '{"x": 18446744073709551616}']
        kinds["huge-number"] = st.sampled_from(big)
        kinds["time-limit"] = rules_json()
    elif re.search(r"\(default \d+\)|bytes|years?\b|seconds|number|count|size", text):
        kinds["huge-number"] = st.sampled_from([*HUGE, "0", "-1", "1"])
    if "bootstrap" in text or "KAFKA" in name:
        hosts = ["127.0.0.1:99999999999", ":::", "[::1]:1", "127.0.0.1:1,127.0.0.1:2", "x:1"]
        kinds["unknown-dsn"] = st.sampled_from(hosts)
    return kinds


def rules_json() -> st.SearchStrategy[str]:
    """NTD_RULES overrides: each known number pushed to its limits (past year 9999, below 0)."""
    from domain.rules import Rules

    numbers = st.sampled_from([0, -1, 1, 10**6, 10**9, 2**63, 3_000_000])
    overrides = st.dictionaries(st.sampled_from(list(Rules.model_fields)), numbers, min_size=1)
    return overrides.map(json.dumps)


SAFE_ENV = {
    "NTD_LOG_FORMAT": "json",
    "NTD_KAFKA_BOOTSTRAP": "127.0.0.1:1",
    "NTD_EVENTS_DSN": "postgresql://ntd:ntd@127.0.0.1:1/ntd_fuzz",
    "NTD_TOPIC_PREFIX": "fuzz.",
    "NTD_CONNECT_TIMEOUT": "2",
}
"""The environment every example starts from: no generated command reaches the shared
PostgreSQL or Kafka (port 1 refuses at once) and one that needs them gives up after 2 s,
logs are JSON lines."""


def _guarded(name: str, value: str) -> str:
    """Keep a generated service address off the shared servers; argv and the environment
    cannot hold NUL."""
    value = value.replace("\x00", "")
    if re.search(r"postgres", value) and not re.search(r":1/", value):
        return SAFE_ENV["NTD_EVENTS_DSN"]
    if "KAFKA" in name and re.search(r":90\d\d\b", value):
        return SAFE_ENV["NTD_KAFKA_BOOTSTRAP"]
    return value


@dataclass(frozen=True)
class Profile:
    """What a run may generate: its hostile categories and which parts may be hostile."""

    categories: frozenset[str] = frozenset(CATEGORIES)
    variables: bool = True
    stores: tuple[str, ...] = tuple(STORES)
    stdin: bool = True
    avoid: frozenset[str] = frozenset()
    """Hostile texts not to generate (a known finding, until it is fixed)."""


Part = tuple[str, Any]
"""Something an invocation is made of: ("param", click parameter), ("variable", name),
("stdin", None) or ("store", None)."""


@dataclass(frozen=True)
class _Target:
    """A part and the hostile kinds it can take: its own, and any text (params, variables)."""

    part: Part
    own: Kinds
    text: bool


def _targets(command: Command, profile: Profile) -> list[_Target]:
    targets = [
        _Target(("param", p), param_kinds(p), True)
        for node in command.chain
        for p in node.params
        if p.name not in ("help", "version") and not getattr(p, "is_flag", False)
    ]
    if profile.variables:
        for name, meaning in sorted(environment_variables().items()):
            targets.append(_Target(("variable", name), variable_kinds(name, meaning), True))
    if profile.stdin:
        own = {c: st.sampled_from(range(len(v))).map(str) for c, v in STDIN.items()}
        targets.append(_Target(("stdin", None), own, False))
    stores = [s for s in profile.stores if s != "seeded"]
    if stores:
        targets.append(_Target(("store", None), {"bad-store": st.sampled_from(stores)}, False))
    return targets


def invocations(
    command: Command, pools: Pools, profile: Profile = Profile()
) -> st.SearchStrategy[Invocation]:
    """Every way to call `command`: its groups' and its own options and arguments from their
    click types, the variables ntd reads, stdin and the store it meets. Each example draws
    none, one or a few hostile categories and, for each, a part that can take it (a part
    whose type has that kind of its own half of the time); every other part is valid, so the
    command gets past its first check."""
    targets = _targets(command, profile)
    texts = text_kinds()
    categories = sorted(profile.categories - {"valid"})
    params = [t for t in targets if t.part[0] == "param"]
    file_param = next((t.part[1] for t in params if isinstance(t.part[1].type, click.File)), None)

    @st.composite
    def build(draw: st.DrawFn) -> Invocation:
        count = draw(st.sampled_from([1, 0, 1, 2]))
        chosen: dict[int, str] = {}
        for _ in range(count):
            category = draw(st.sampled_from(categories))
            own = [i for i, t in enumerate(targets) if category in t.own]
            by_text = [i for i, t in enumerate(targets) if t.text and category in texts]
            with_params = [i for i in by_text if targets[i].part[0] == "param"]
            # a part with this kind of its own half of the time; else any text, mostly a
            # parameter's (there are more variables than parameters)
            pool: list[int] = by_text
            if own and (not by_text or draw(st.booleans())):
                pool = own
            elif with_params and draw(st.integers(0, 2)) > 0:
                pool = with_params
            if pool:
                chosen[draw(st.sampled_from(pool))] = category
        hostile: dict[Part, tuple[str, str]] = {}
        for i, category in chosen.items():
            target = targets[i]
            kinds = target.own if category in target.own else texts
            text = draw(kinds[category])
            if text not in profile.avoid:
                hostile[target.part] = (category, text)
        values: dict[int, list[str]] = {}
        for target in params:
            param = target.part[1]
            values[id(param)] = draw(_param_values(param, pools, hostile.get(target.part)))
        stdin = b""
        if ("stdin", None) in hostile:
            category, index = hostile[("stdin", None)]
            stdin = STDIN[category][int(index)]
            if file_param is not None:
                values[id(file_param)] = ["-"]
        elif any(v == ["-"] for v in values.values()):
            stdin = NOTICE
        env = {
            name: _guarded(name, text)
            for (what, name), (_, text) in hostile.items()
            if what == "variable"
        }
        store = hostile.get(("store", None), ("", "seeded"))[1]
        argv = _arrange(command, values, draw)
        if draw(st.integers(0, 40)) == 40:
            argv.append(draw(st.sampled_from(["--help", "--bogus", "extra"])))
        return Invocation(
            command.name,
            tuple(argv),
            tuple(sorted(env.items())),
            stdin,
            store,
            frozenset({c for c, _ in hostile.values()} or {"valid"}),
        )

    return build()


def _param_values(
    param: click.Parameter, pools: Pools, hostile: tuple[str, str] | None
) -> st.SearchStrategy[list[str]]:
    """The texts one parameter gets: valid ones (none, if it may be left out; a few, if it
    repeats), with the hostile text among them."""
    required = param.required and not getattr(param, "envvar", None)
    multiple = param.multiple or (isinstance(param, click.Argument) and param.nargs < 0)

    @st.composite
    def draw_values(draw: st.DrawFn) -> list[str]:
        low = 1 if required else 0
        count = draw(st.integers(min_value=low, max_value=3 if multiple else 1))
        if required and draw(st.integers(0, 30)) == 0:
            count = 0  # now and then, left out
        texts = [draw(_valid(param, pools)) for _ in range(count)]
        if hostile is not None:
            where = draw(st.integers(0, len(texts) - 1)) if texts and multiple else 0
            texts[where : where + 1] = [hostile[1]]
        return texts

    return draw_values()


def _arrange(command: Command, values: dict[int, list[str]], draw: st.DrawFn) -> list[str]:
    """argv: each group's options after its name, the leaf's arguments last (after `--`
    when one looks like an option), flags drawn on or off."""
    argv: list[str] = []
    for depth, node in enumerate(command.chain):
        if depth:
            argv.append(command.path[depth - 1])
        arguments: list[str] = []
        for param in node.params:
            if isinstance(param, click.Option) and param.is_flag:
                if param.name in ("help", "version"):
                    continue
                flags = [[], *([o] for o in param.opts + param.secondary_opts)]
                argv += draw(st.sampled_from(flags))
                continue
            texts = values.get(id(param), [])
            if isinstance(param, click.Argument):
                arguments += texts
                continue
            flag = max(param.opts, key=len)
            for text in texts:
                argv += [f"{flag}={text}"] if draw(st.booleans()) else [flag, text]
        if any(a.startswith("-") for a in arguments):
            argv.append("--")
        argv += arguments
    return argv


# -- the sandbox -----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one run did."""

    invocation: Invocation
    exit_code: int | None
    """None: still running at the timeout (killed)."""
    stdout: bytes
    stderr: bytes
    seconds: float
    before: dict[str, str]
    after: dict[str, str]
    logged: str = ""
    """The traceback the last-resort line points to (its failure log), if any."""

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


def store_digest(data_dir: Path) -> dict[str, str]:
    """A digest of each store's rows (absent and empty count alike: creating the schema is no
    change); a file that is not a database, by its bytes."""
    digests: dict[str, str] = {}
    for name in ("events.db", "read.db"):
        path = data_dir / name
        if not path.exists():
            digests[name] = "absent"
            continue
        if not path.is_file():
            digests[name] = f"not a file: {path.stat().st_mode:o}"
            continue
        digests[name] = _rows_digest(path)
    return digests


def _rows_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in sorted(tables):
                rows = sorted(repr(r) for r in db.execute(f'SELECT * FROM "{table}"'))
                if rows:
                    digest.update(f"{table}:{len(rows)}\n".encode())
                    for row in rows:
                        digest.update(row.encode("utf-8", "surrogatepass"))
        finally:
            db.close()
    except sqlite3.DatabaseError:
        digest.update(b"bytes:" + path.read_bytes())
    result = digest.hexdigest()
    return "absent" if result == hashlib.sha256().hexdigest() else result


def _memory_cap() -> int:
    """The child's address-space cap: what the parent maps now plus 1.5 GiB."""
    try:
        status = Path("/proc/self/status").read_text()
        mapped = int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]
    except (OSError, AttributeError):
        mapped = 1 << 30
    return mapped + (3 << 29)


class Sandbox:
    """A seeded store built once, copied per example, and a runner that forks the warm
    interpreter (about 10× faster than starting `ntd`) or starts `python -m ntd`."""

    def __init__(self, root: Path, seed_dir: Path, pools: Pools, mode: str = "fork") -> None:
        self.root = root
        self.seed_dir = seed_dir
        self.pools = pools
        self.mode = mode
        self.files = root / "files-kit"
        self._seed_digest = store_digest(seed_dir)
        self._count = 0
        _make_files(self.files, pools)
        _warm()

    # the per-example directory

    def _example(self, inv: Invocation) -> Path:
        self._count += 1
        ex = self.root / f"ex{self._count}"
        ex.mkdir()
        shutil.copytree(self.files, ex / "files", symlinks=True)
        os.mkfifo(ex / "files" / "fifo")
        data = ex / "data"
        if inv.store == "fresh":
            return ex
        if inv.store == "data-is-file":
            data.write_bytes(b"not a directory\n")
            return ex
        shutil.copytree(self.seed_dir, data)
        broken = {
            "events-garbage": ("events.db", b"this is not a database\n" * 200),
            "events-empty": ("events.db", b""),
            "read-garbage": ("read.db", b"\x00\xff garbage " * 300),
        }
        if inv.store in broken:
            name, content = broken[inv.store]
            (data / name).write_bytes(content)
        elif inv.store in ("events-dir", "read-dir"):
            name = inv.store.split("-")[0] + ".db"
            (data / name).unlink()
            (data / name).mkdir()
            (data / name / "inside").write_text("x")
        elif inv.store == "events-truncated":
            raw = (data / "events.db").read_bytes()
            (data / "events.db").write_bytes(raw[: len(raw) // 2])
        return ex

    def run(self, inv: Invocation, timeout: float = 10.0) -> Outcome:
        ex = self._example(inv)
        try:
            data = ex / "data"
            before = (
                self._seed_digest
                if inv.store == "seeded"
                else (store_digest(data) if data.is_dir() else {})
            )
            argv = [a.replace(EX, str(ex)) for a in inv.argv]
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "HOME": str(ex),
                "TMPDIR": str(ex),
                "XDG_DATA_HOME": str(ex / "xdg"),
                "NTD_DATA_DIR": str(data),
                "NTD_ACTOR": ROOT,
                **SAFE_ENV,
            }
            env.update({k: v.replace(EX, str(ex)) for k, v in inv.env})
            notice = (self.files / "notice.json").read_bytes()
            stdin = notice if inv.stdin == NOTICE else inv.stdin
            runner = _run_forked if self.mode == "fork" else _run_subprocess
            code, out, err, seconds = runner(argv, env, stdin, ex, timeout)
            after = store_digest(data) if data.is_dir() else {}
            logged = _logged_traceback(err.decode("utf-8", "replace"), ex)
            return Outcome(inv, code, out, err, seconds, before, after, logged)
        finally:
            shutil.rmtree(ex, ignore_errors=True)


def _warm() -> None:
    """Import every module of the project once, here: a command imports some only when it
    runs, and a fork that must import them is ten times slower (0.43 s against 0.04 s for
    `case show`, measured)."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if not info.name.endswith("__main__"):
                with contextlib.suppress(Exception):  # an optional extra missing: not ours
                    importlib.import_module(info.name)


def _logged_traceback(stderr: str, cwd: Path) -> str:
    """The traceback of the failure log a last-resort line names (its last entry; a relative
    path is the run's, from its working directory)."""
    found = re.search(r"details in the log: (\S+)", stderr)
    if not found:
        return ""
    try:
        last = (cwd / found.group(1)).read_text(errors="replace").splitlines()[-1]
        return str(json.loads(last).get("exception", ""))
    except (OSError, IndexError, ValueError):
        return ""


def _make_files(where: Path, pools: Pools) -> None:
    where.mkdir(parents=True, exist_ok=True)
    notice = json.loads(pools.texts["notice"][0])
    text = json.dumps(notice, indent=2)
    (where / "notice.json").write_text(text)
    (where / "notice-latin1.json").write_bytes(
        text.replace("Test buy", "Test b\u00fby").encode("latin-1", "replace")
    )
    (where / "notice-bom.json").write_bytes(b"\xef\xbb\xbf" + text.encode())
    listing = notice["listings"][0]
    for name, listing_id in (("control", "L-1\x1b[31m\x1b]0;x\x07"), ("nfd", "Cafe\u0301-1")):
        changed = {**notice, "listings": [{**listing, "listing_id": listing_id}]}
        (where / f"notice-{name}.json").write_text(json.dumps(changed))
    big = text.replace('"automated_detection": false', '"automated_detection": ' + "9" * 5000)
    big = big.replace("{", '{"extra": 18446744073709551616, ', 1)
    (where / "notice-bignum.json").write_text(big)
    evidence = notice["evidence"][0]
    many = {
        **notice,
        "listings": [{**listing, "listing_id": f"L-{i}"} for i in range(300)],
        "evidence": [evidence] * 1000,
    }
    (where / "notice-many.json").write_text(json.dumps(many))
    (where / "deep-array.json").write_text("[" * 100_000 + "]" * 100_000)
    (where / "deep-object.json").write_text('{"a":' * 50_000 + "1" + "}" * 50_000)
    (where / "bignum.json").write_text("1" + "0" * 5000)
    (where / "nul.bin").write_bytes(b"\x00" * 1000)
    (where / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (where / "empty").write_bytes(b"")
    (where / "certificate.pdf").write_bytes(b"%PDF-1.4\n% a certificate\n%%EOF\n")
    (where / "garbage.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    (where / "holidays.txt").write_text("0001-01-01\n9999-12-31\n2026-02-30\n")
    (where / "dir").mkdir(exist_ok=True)


# -- running ---------------------------------------------------------------------------------

Ran = tuple[int | None, bytes, bytes, float]


def _run_forked(
    argv: list[str], env: Mapping[str, str], stdin: bytes, cwd: Path, timeout: float
) -> Ran:
    """Run `ntd argv` in a fork of this (warm) interpreter, as `python -m ntd` would: its own
    process group, fds 0-2 on files, the interpreter's stdio encodings, caps on memory and on
    the size of files it writes; killed with its group after `timeout` seconds."""
    (cwd / ".stdin").write_bytes(stdin)
    streams = (sys.__stdin__, sys.__stdout__, sys.__stderr__)
    encodings = [(s.encoding, s.errors) if s else ("utf-8", "strict") for s in streams]
    cap = _memory_cap()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 70
        try:
            os.setpgid(0, 0)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 20, 256 << 20))
            for fd, name, flags in (
                (0, ".stdin", os.O_RDONLY),
                (1, ".stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                (2, ".stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            ):
                opened = os.open(cwd / name, flags, 0o600)
                os.dup2(opened, fd)
                os.close(opened)
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(env)
            sys.stdin = io.TextIOWrapper(
                io.BufferedReader(io.FileIO(0, "r", closefd=False)), *encodings[0]
            )
            sys.stdout = io.TextIOWrapper(
                io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
                *encodings[1],
                line_buffering=True,
            )
            sys.stderr = io.TextIOWrapper(
                io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
                *encodings[2],
                write_through=True,
            )
            sys.argv = ["ntd", *argv]
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            # where it is stuck, when the timeout comes (the main thread's frames only:
            # reading a running thread's frames can crash the process)
            faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=False)
            code = _main_as_python_would()
        finally:
            os._exit(code)
    status: int | None = None
    while status is None:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(raw)
        elif time.monotonic() - start > timeout:
            _dump_then_kill(pid)
            break
        else:
            time.sleep(0.002)
    seconds = time.monotonic() - start
    _kill_group(pid)  # whatever it started (workers, servers) goes with it
    return status, (cwd / ".stdout").read_bytes(), (cwd / ".stderr").read_bytes(), seconds


def _dump_then_kill(pid: int) -> None:
    """Ask a run that overstayed for its stack (SIGUSR1, see above), then end its group."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGUSR1)
    time.sleep(0.2)
    _kill_group(pid)
    os.waitpid(pid, 0)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _main_as_python_would() -> int:  # pragma: no cover - runs in the child
    """`ntd`'s console script, with the interpreter's own ending: an exception that escapes is
    a traceback on stderr and exit 1."""
    from ntd.cli import main

    try:
        try:
            main()
            return 0
        finally:
            sys.stdout.flush()
    except SystemExit as stop:
        if stop.code is None:
            return 0
        if isinstance(stop.code, int):
            return stop.code
        print(stop.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        traceback.print_exc()
        return 130
    except BaseException:  # noqa: BLE001 - what the interpreter would print
        traceback.print_exc()
        return 1
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()


def _run_subprocess(
    argv: list[str], env: Mapping[str, str], stdin: bytes, cwd: Path, timeout: float
) -> Ran:
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "ntd", *argv],
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(stdin, timeout=timeout)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        out, err = process.communicate()
        code = None
    _kill_group(process.pid)
    return code, out, err, time.monotonic() - start


# -- seeding ---------------------------------------------------------------------------------

SEED_ROLES = ("admin", "agent", "supervisor", "auditor", "account_manager")


def seed(where: Path) -> Pools:
    """A small demo store (1% of `ntd demo`, about 1 s) where agent:root holds every role,
    caught up, and the names in it."""
    data = where / "seed"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "HOME": str(where),
        "NTD_DATA_DIR": str(data),
        **SAFE_ENV,
    }

    def ntd(*argv: str) -> str:
        code, out, err, _ = _run_forked(list(argv), env, b"", where, 120)
        if code != 0:
            raise RuntimeError(f"seeding: ntd {' '.join(argv)}: {err.decode(errors='replace')}")
        return out.decode()

    ntd("demo", "--size", "0.01", "--seed", "7", "--weeks", "4")
    for role in SEED_ROLES:
        ntd("access", "grant", ROOT, role, "--as", "agent:admin.ops")
    ntd("case", "list", "--limit", "1", "--as", ROOT)
    pools = _pools(data)
    notifier = pools.ids["notifier"][0]
    shown = json.loads(ntd("notifier", "show", notifier, "--json", "--as", ROOT))
    pools.ids["right"] = [r["right_id"] for r in shown["rights"]]
    tokens = json.loads(ntd("tokens", "list", "--json", "--as", ROOT))
    pools.ids["token"] = [t["token_id"] for t in tokens]
    pools.actors = sorted({f"{t['principal']['kind']}:{t['principal']['id']}" for t in tokens})
    for who in [ROOT, *pools.actors]:
        pools.tokens[who] = ntd("tokens", "create", who, "-q", "--as", ROOT).strip()
    right = pools.ids["right"][0]
    pools.texts["notice"] = [ntd("notice", "template", "--notifier", notifier, "--right", right)]
    # ensure the read store is settled: a later read command changes nothing
    ntd("case", "list", "--limit", "1", "--as", ROOT)
    return pools


def _pools(data: Path) -> Pools:
    db = sqlite3.connect(data / "read.db")
    try:
        # open cases first: a decision on a closed case only meets the lifecycle's refusal
        cases = [
            r[0]
            for r in db.execute(
                "SELECT case_id FROM read_cases ORDER BY state = 'closed', filed_at DESC"
            )
        ]
        notices = [r[0] for r in db.execute("SELECT DISTINCT notice_id FROM read_cases")]
        notifiers = list(db.execute("SELECT notifier_id, name FROM read_notifiers ORDER BY name"))
        sellers = [
            f"{m}/{s}"
            for m, s in db.execute("SELECT DISTINCT marketplace, seller_id FROM read_cases")
        ]
        listings = [
            f"{m}:{lid}:https://{m}.example/item/{lid}:{s}"
            for m, lid, s in db.execute(
                "SELECT marketplace, listing_id, seller_id FROM read_cases LIMIT 5"
            )
        ]
    finally:
        db.close()
    names = [n for _, n in notifiers]
    return Pools(
        ids={
            "case": cases[:40],
            "notice": notices[:20],
            "notifier": [i for i, _ in notifiers],
            "brand": [i for i, _ in notifiers],
        },
        texts={
            "brand": names,
            "notifier": names,
            "seller": sellers,
            "listing": listings,
            "email": ["legal@acme.example", "not-an-email", "a@b"],
            "evidence": [
                "test_buy:order 1:" + "ab" * 32,
                "photo:img.jpg:" + "0" * 64,
                "bad:evidence",
            ],
            "territory": ["DE", "FR", "XX", "de"],
            "event_type": ["CaseOpened", "TakenDown", "bogus"],
            "actor": ["agent:root", "agent:alice"],
            "share": ["0.5", "1", "50%", "-1"],
            "notices": ["10", "0"],
            "port": ["0", "65536", "8080", "-1"],
            "host": ["127.0.0.1", "::1", "256.0.0.1"],
            "*": [
                "Test buy 88121 received: counterfeit hardware, no serial tag, never supplied.",
                "short",
            ],
        },
    )


# -- the properties --------------------------------------------------------------------------

EXIT_CODES = {0, 1, 2}
"""The documented exit codes (ntd/cli/kit.py NtdGroup._run): 0 done, 1 refused or failed,
2 usage or bad input."""

UNEXPECTED = "ntd: error: unexpected failure"
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x9b]")


@dataclass(frozen=True)
class Finding:
    """One property broken: its kind, where in the code, the command and the input."""

    kind: str
    where: str
    command: str
    invocation: Invocation

    @property
    def key(self) -> tuple[str, str]:
        """One entry per distinct code path (whichever command took it)."""
        return (self.kind, self.where)

    def __str__(self) -> str:
        return f"{self.kind} at {self.where}: {self.invocation.shell()}"


FINDING_KINDS = {
    "traceback": "a Python traceback on stderr",
    "unexpected-failure": "the last-resort line (an exception nobody translated)",
    "exit-code": "an exit code outside {0, 1, 2}",
    "store-changed": "a refused command changed a store",
    "hang": "still running at the timeout (a one-shot command)",
    "raw-control": "a control character written raw to stdout",
}


def last_frames(stderr: str, count: int = 3) -> str:
    """The traceback's last frames and its exception line, for telling code paths apart."""
    lines = stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")]
    if not starts:
        return ""
    tail = lines[starts[-1] + 1 :]
    frames = [i for i, line in enumerate(tail) if line.startswith('  File "')]
    if not frames:
        return "\n".join(tail[-3:])
    keep = tail[frames[-count] if len(frames) >= count else frames[0] :]
    exception = [line for line in keep if line and not line.startswith(" ")]
    frame_lines = [line.strip() for line in keep if line.startswith('  File "')]
    return " | ".join([*frame_lines, *exception[-1:]])


def _where(frames: str) -> str:
    """A short code location: the last frame's file and function, and the exception type."""
    found = re.findall(r'File "([^"]+)", line \d+, in (\S+)', frames)
    kind = frames.rsplit("|", 1)[-1].strip().split(":")[0]
    if not found:
        return kind
    path, function = found[-1]
    return f"{'/'.join(Path(path).parts[-2:])}:{function} {kind}"


def check(outcome: Outcome, long_running: bool = False) -> list[Finding]:
    """The properties: no traceback nor last-resort line, an exit code from the documented
    set, both stores unchanged on refusal, a one-shot command done within its timeout, and
    nothing written raw to a terminal that came from hostile input."""
    inv = outcome.invocation
    err = outcome.stderr.decode("utf-8", "backslashreplace")
    out = outcome.stdout.decode("utf-8", "backslashreplace")
    found: list[Finding] = []

    def add(kind: str, where: str) -> None:
        found.append(Finding(kind, where, inv.command, inv))

    if any(line.startswith("Traceback (most recent call last)") for line in err.splitlines()):
        add("traceback", _where(last_frames(err)))
    for line in err.splitlines():
        if line.startswith(UNEXPECTED):
            named = re.search(r"\(([A-Za-z_.]+)\)", line)
            add(
                "unexpected-failure", _where(last_frames(outcome.logged)) or str(named and named[1])
            )
            break
    if outcome.timed_out:
        if not long_running:
            add("hang", _stuck_at(err) or f"ntd {inv.command}")
        return found
    if outcome.exit_code not in EXIT_CODES:
        add("exit-code", f"ntd {inv.command}: exit {outcome.exit_code}")
    if outcome.exit_code != 0 and outcome.before and outcome.before != outcome.after:
        changed = sorted(k for k in outcome.before if outcome.before.get(k) != outcome.after.get(k))
        add("store-changed", f"ntd {inv.command}: {', '.join(changed)}")
    if inv.categories & {"control", "non-utf8"} and RAW_CONTROL.search(out):
        add("raw-control", f"ntd {inv.command}: stdout")
    return found


def _stuck_at(stderr: str) -> str:
    """Where a killed run was stuck: the innermost frame of ntd's own code in the main
    thread's dump (faulthandler, written just before the kill), and the frame it called."""
    dump = stderr.split("most recent call first):", 1)
    if len(dump) < 2:
        return ""
    frames = re.findall(r'File "([^"]+)", line \d+ in (\S+)', dump[1].split("\n\n")[0])
    if not frames:
        return ""
    ours = [i for i, (p, _) in enumerate(frames) if "site-packages" not in p and p[0] != "<"]
    at = ours[0] if ours else 0
    path, function = frames[at]
    called = f" → {frames[at - 1][1]}" if at > 0 else ""
    return f"{'/'.join(Path(path).parts[-2:])}:{function}{called} (stuck)"


# -- a whole run, for scripts/fuzz -----------------------------------------------------------


@dataclass
class Tally:
    """A run's counts: inputs by category and command, exit codes, and the findings by code
    path, each with its first input and the commands that took it."""

    inputs: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    by_command: dict[str, int] = field(default_factory=dict)
    by_exit: dict[str, int] = field(default_factory=dict)
    findings: dict[tuple[str, str], tuple[Finding, set[str], int]] = field(default_factory=dict)
    refusals_changed: int = 0
    seconds: float = 0.0

    def add(self, outcome: Outcome, found: Sequence[Finding]) -> None:
        self.inputs += 1
        self.seconds += outcome.seconds
        for category in outcome.invocation.categories:
            self.by_category[category] = self.by_category.get(category, 0) + 1
        command = outcome.invocation.command
        self.by_command[command] = self.by_command.get(command, 0) + 1
        code = "timeout" if outcome.timed_out else str(outcome.exit_code)
        self.by_exit[code] = self.by_exit.get(code, 0) + 1
        for finding in found:
            first, commands, count = self.findings.get(finding.key, (finding, set(), 0))
            self.findings[finding.key] = (first, commands | {command}, count + 1)

    def count(self, kind: str) -> int:
        """Inputs that broke a property of this kind."""
        return sum(n for (k, _), (_, _, n) in self.findings.items() if k == kind)


def shorter(inv: Invocation) -> Iterator[Invocation]:
    """Smaller variants of an input: one word, one variable, stdin or the broken store less."""
    for i in range(len(inv.argv)):
        yield inv.replace(argv=inv.argv[:i] + inv.argv[i + 1 :])
    for i in range(len(inv.env)):
        yield inv.replace(env=inv.env[:i] + inv.env[i + 1 :])
    if inv.stdin:
        yield inv.replace(stdin=b"")
    if inv.store != "seeded":
        yield inv.replace(store="seeded")


def minimise(
    sandbox: Sandbox, inv: Invocation, still: Callable[[Outcome], bool], timeout: float
) -> Invocation:
    """The input made as small as it goes while `still` holds of its outcome (at most 60
    runs: a report needs a readable input, not the least one)."""
    budget = 60
    improved = True
    while improved and budget > 0:
        improved = False
        for smaller in shorter(inv):
            budget -= 1
            if still(sandbox.run(smaller, timeout)):
                inv, improved = smaller, True
                break
            if budget <= 0:
                break
    return inv
