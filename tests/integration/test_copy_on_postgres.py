"""The read side's bulk load (COPY, text format) keeps every value exactly as given."""

from __future__ import annotations

import psycopg2
import pytest

from projections.sql import PostgresDialect, Table

from .conftest import READ_DSN

TRICKY = [
    "plain text, nothing to escape ✓",
    "tab\there",
    "line\nbreak",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    "",
    '{"quoted": "json \\"inside\\"", "unicode": "Zoë ✓"}',
    "\\.",
]


@pytest.mark.parametrize("text", TRICKY)
def test_copy_round_trips_text_that_copy_treats_specially(read_schema: str, text: str) -> None:
    table = Table("copied", "n BIGINT NOT NULL, t TEXT, maybe TEXT", "n")
    connection = psycopg2.connect(READ_DSN, options=f"-c search_path={read_schema}")
    with connection.cursor() as cursor:
        cursor.execute(table.create())
        rows = [(1, text, None), (2, text, "x"), (3, None, text), (4, "plain", None)]
        PostgresDialect().copy(cursor, table, "copied", rows)
        cursor.execute("SELECT n, t, maybe FROM copied ORDER BY n")
        assert cursor.fetchall() == rows
    connection.close()
