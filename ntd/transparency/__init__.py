"""Transparency exports: statements of reasons in the EU Transparency Database's shape
(statements.py, sent by submit.py) and the redacted public archive of notices (archive.py).
Both read the audit trail, which holds every published event on SQLite and PostgreSQL alike,
through `source.rows`, which asks the permission table first. docs/transparency.md has the
rules they follow."""
