"""One id, one row: campaign and request ids compare byte for byte, as Kafka and Hive do.

The tables' utf8mb4_unicode_ci collation ignored case and trailing spaces, so "ABC" and
"abc " found the row of "abc" while Kafka hashed them to other partitions and Hive kept them
apart. Ids are ASCII by definition (servers/identifiers.py), so their columns become ASCII
with a binary collation: a lookup matches exactly the id that was stored.

Campaigns also remember where their last instruction came from (partition and record time
beside the offset), so a replay is recognised only against a position it can be compared
with: an instruction from another partition or a recreated topic is applied, never dropped.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID_COLUMNS = {
    "campaigns": {"campaign_id": 64},
    "served_ads": {"campaign_id": 64, "request_id": 36},
    "feedback": {"campaign_id": 64, "request_id": 36},
    "feedback_outbox": {"campaign_id": 64, "request_id": 36},
    "campaign_kpis": {"campaign_id": 64},
}


def _modify(charset: str) -> None:
    for table, columns in ID_COLUMNS.items():
        changes = ", ".join(
            f"MODIFY {name} VARCHAR({length}) {charset} NOT NULL"
            for name, length in columns.items()
        )
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    _modify("CHARACTER SET ascii COLLATE ascii_bin")
    op.execute(
        "ALTER TABLE campaigns "
        "ADD COLUMN last_partition INT NOT NULL DEFAULT -1 "
        "COMMENT 'partition of the last instruction applied; -1 when not from Kafka' "
        "AFTER last_sequence, "
        "ADD COLUMN last_record_ms BIGINT NOT NULL DEFAULT 0 "
        "COMMENT 'record timestamp (ms) of the last instruction applied' AFTER last_partition"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE campaigns DROP COLUMN last_record_ms, DROP COLUMN last_partition")
    _modify("CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
