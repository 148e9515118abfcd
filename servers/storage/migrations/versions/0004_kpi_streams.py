"""The KPI stream remembers the last micro-batch it added to campaign_kpis.

The feedback writer now adds each batch's counts to the campaign-minutes it touches (one
decode for the billing archive and the KPIs) instead of rewriting full values from a second
streaming query. An addition must happen once per batch: the stream's last applied batch is
kept beside the values and moved in the same transaction, so a replayed batch adds nothing.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE campaign_kpi_streams ("
        "stream VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL "
        "COMMENT 'the KPI table and the streaming checkpoint the counts come from', "
        "batch_id BIGINT NOT NULL COMMENT 'the last micro-batch added to the KPIs', "
        "updated_at DATETIME NOT NULL, "
        "PRIMARY KEY (stream))"
    )


def downgrade() -> None:
    op.execute("DROP TABLE campaign_kpi_streams")
