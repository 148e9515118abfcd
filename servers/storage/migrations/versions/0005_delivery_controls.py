"""Delivery controls: frequency caps, floors, pacing modes, daily budgets, dayparts, diagnostics.

- campaigns gains its delivery controls (absent ones keep docs/design.md rules 1-8 as they
  were) and what it spent on its current day in the platform's time zone.
- served_ads records the auction's floor and runner-up, so a served ad shows how its price
  was set.
- frequency_counts holds, per user and capped campaign, the ads served in the cap's current
  period; every AdServer worker and host reads and adds to the same rows.
- delivery_stats and delivery_samples hold the AdServers' diagnostics counters per minute.
- campaign_reach holds each campaign's HyperLogLog sketch of the users it reached.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CAMPAIGN_ID = "VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL"
_USER_ID = "VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
_MONEY = "DECIMAL(24,10)"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE campaigns "
        "ADD COLUMN frequency_cap_impressions INT NULL "
        "COMMENT 'most ads per user per period; NULL: the platform default', "
        "ADD COLUMN frequency_cap_period VARCHAR(8) CHARACTER SET ascii NULL "
        "COMMENT 'MINUTE, HOUR, DAY or LIFETIME', "
        "ADD COLUMN pacing VARCHAR(8) CHARACTER SET ascii NOT NULL DEFAULT 'EVEN', "
        f"ADD COLUMN daily_budget {_MONEY} NULL COMMENT 'NULL: no daily cap', "
        "ADD COLUMN dayparts JSON NOT NULL DEFAULT '[]' "
        "COMMENT '[{days, start_hour, end_hour}]; empty: the whole window', "
        "ADD COLUMN spent_day DATE NULL COMMENT 'the local day spent_today belongs to', "
        f"ADD COLUMN spent_today {_MONEY} NOT NULL DEFAULT 0"
    )
    op.execute(
        "ALTER TABLE served_ads "
        f"ADD COLUMN floor_cpm {_MONEY} NOT NULL DEFAULT 0, "
        f"ADD COLUMN runner_up_cpm {_MONEY} NULL COMMENT 'NULL: the winner was alone'"
    )
    op.execute(
        "CREATE TABLE frequency_counts ("
        f"user_id {_USER_ID}, campaign_id {_CAMPAIGN_ID}, "
        "period_start DATETIME(6) NOT NULL COMMENT 'UTC start of the counted period', "
        "impressions INT NOT NULL, "
        "PRIMARY KEY (user_id, campaign_id), "
        "KEY ix_frequency_counts_campaign (campaign_id, period_start))"
    )
    op.execute(
        "CREATE TABLE delivery_stats ("
        f"campaign_id {_CAMPAIGN_ID}, minute DATETIME NOT NULL, "
        "matched BIGINT NOT NULL, frequency_capped BIGINT NOT NULL, "
        "below_floor BIGINT NOT NULL, entered BIGINT NOT NULL, won BIGINT NOT NULL, "
        f"outbid_clearing_cpm {_MONEY} NOT NULL COMMENT 'sum over the auctions it lost', "
        "PRIMARY KEY (campaign_id, minute), KEY ix_delivery_stats_minute (minute))"
    )
    op.execute(
        "CREATE TABLE delivery_samples ("
        "minute DATETIME NOT NULL PRIMARY KEY, requests BIGINT NOT NULL)"
    )
    op.execute(
        "CREATE TABLE campaign_reach ("
        f"campaign_id {_CAMPAIGN_ID} PRIMARY KEY, sketch BLOB NOT NULL, "
        "unique_users BIGINT NOT NULL, updated_at DATETIME(6) NOT NULL)"
    )


def downgrade() -> None:
    for table in ("campaign_reach", "delivery_samples", "delivery_stats", "frequency_counts"):
        op.execute(f"DROP TABLE {table}")
    op.execute("ALTER TABLE served_ads DROP COLUMN runner_up_cpm, DROP COLUMN floor_cpm")
    op.execute(
        "ALTER TABLE campaigns DROP COLUMN spent_today, DROP COLUMN spent_day, "
        "DROP COLUMN dayparts, DROP COLUMN daily_budget, DROP COLUMN pacing, "
        "DROP COLUMN frequency_cap_period, DROP COLUMN frequency_cap_impressions"
    )
