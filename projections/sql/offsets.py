"""Where the views stand: the event log's watermark (read_position) and each Kafka consumer's
next offset per partition (ntd_consumer_offsets), written in the transaction of the rows."""

from __future__ import annotations

from collections.abc import Mapping

from projections.sql.dialect import Cursor, Dialect
from projections.tracking import Partition

POSITION_NAME = "ntd"


def create_position(dialect: Dialect, cur: Cursor) -> None:
    """Start the watermark at 0 unless it is stored already."""
    cur.execute(
        dialect.sql(
            "INSERT INTO read_position (name, last_seq) VALUES (?, 0) ON CONFLICT (name) DO NOTHING"
        ),
        (POSITION_NAME,),
    )


def stored_position(dialect: Dialect, cur: Cursor, lock: str = "") -> int:
    """The last notification id applied (0 if none); `lock` e.g. the dialect's row lock."""
    cur.execute(
        dialect.sql(f"SELECT last_seq FROM read_position WHERE name = ?{lock}"), (POSITION_NAME,)
    )
    row = cur.fetchone()
    return int(row[0]) if row else 0


def set_position(dialect: Dialect, cur: Cursor, seq: int) -> None:
    """Store the last notification id applied."""
    cur.execute(
        dialect.sql("UPDATE read_position SET last_seq = ? WHERE name = ?"),
        (seq, POSITION_NAME),
    )


def reset_positions(dialect: Dialect, cur: Cursor) -> None:
    """Forget every consumer's offsets and set the watermark back to 0."""
    cur.execute("DELETE FROM ntd_consumer_offsets")
    cur.execute(
        dialect.sql("UPDATE read_position SET last_seq = 0 WHERE name = ?"), (POSITION_NAME,)
    )


def stored_offsets(dialect: Dialect, cur: Cursor, consumer: str) -> dict[Partition, int]:
    """The consumer's stored next offset of each partition that has one."""
    cur.execute(
        dialect.sql(
            "SELECT topic, partition, next_offset FROM ntd_consumer_offsets WHERE consumer = ?"
        ),
        (consumer,),
    )
    return {(topic, int(partition)): int(offset) for topic, partition, offset in cur}


def store_offsets(
    dialect: Dialect, cur: Cursor, consumer: str, offsets: Mapping[Partition, int]
) -> None:
    """Store (insert or replace) the consumer's next offsets of these partitions."""
    dialect.insert_many(
        cur,
        "INSERT INTO ntd_consumer_offsets (consumer, topic, partition, next_offset)",
        [(consumer, topic, partition, offset) for (topic, partition), offset in offsets.items()],
        " ON CONFLICT (consumer, topic, partition)"
        " DO UPDATE SET next_offset = excluded.next_offset",
    )


def replace_positions(
    dialect: Dialect, cur: Cursor, seq: int, consumer: str, offsets: Mapping[Partition, int]
) -> None:
    """Set the log watermark and make `offsets` the consumer's only stored offsets."""
    set_position(dialect, cur, seq)
    cur.execute(dialect.sql("DELETE FROM ntd_consumer_offsets WHERE consumer = ?"), (consumer,))
    store_offsets(dialect, cur, consumer, offsets)
