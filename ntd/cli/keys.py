"""`ntd keys`: the Ed25519 key pair that signs the event store's checkpoints."""

from __future__ import annotations

import click

from ntd.cli.kit import Runtime, pass_runtime
from ntd.signing import create_key, load_key, public_text


@click.group()
def keys() -> None:
    """Make and show the key pair that signs the event store's checkpoints.

    The private half is a file outside every database: NTD_SIGNING_KEY (default
    ~/.config/ntd/signing.key), made 0600; ntd refuses to use one others can read. Give the
    public half (`ntd keys show`) to whoever checks your exports.

    \b
    Examples:
      NTD_SIGNING_KEY=/etc/ntd/signing.key ntd keys init
      ntd keys show
    """


@keys.command("init")
@pass_runtime
def keys_init(rt: Runtime) -> None:
    """Make a new key pair (never over an existing key file) and print its public key.

    \b
    Example:
      NTD_SIGNING_KEY=/etc/ntd/signing.key ntd keys init
    """
    path = rt.settings.signing_key
    key = create_key(path)
    click.echo(f"signing key written to {path} (mode 600)", err=True)
    click.echo(public_text(key.public_key()))


@keys.command("show")
@pass_runtime
def keys_show(rt: Runtime) -> None:
    """Print the public key (`ed25519:BASE64`): what `ntd audit verify --public-key` takes.

    \b
    Example:
      ntd keys show > ntd-public.key
    """
    click.echo(public_text(load_key(rt.settings.signing_key).public_key()))
