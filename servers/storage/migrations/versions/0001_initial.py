"""The initial schema: campaigns, users, served ads, feedback with its outbox, KPIs.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MONEY = "DECIMAL(24,10)"

TABLES = {
    "campaigns": f"""
        campaign_id VARCHAR(64) NOT NULL PRIMARY KEY,
        text TEXT NOT NULL,
        category VARCHAR(100) NOT NULL,
        keywords JSON NOT NULL,
        target_gender VARCHAR(8) NOT NULL,
        target_age_start SMALLINT NOT NULL,
        target_age_end SMALLINT NOT NULL,
        target_city VARCHAR(100) NOT NULL,
        target_state VARCHAR(100) NOT NULL,
        target_country VARCHAR(100) NOT NULL,
        target_income_bucket VARCHAR(8) NOT NULL,
        target_device VARCHAR(32) NOT NULL,
        cpc {MONEY} NOT NULL,
        cpa {MONEY} NOT NULL,
        cpm {MONEY} NOT NULL,
        budget {MONEY} NOT NULL,
        spent {MONEY} NOT NULL DEFAULT 0,
        start_date DATE NOT NULL,
        end_date DATE NOT NULL,
        start_time TIME NOT NULL,
        end_time TIME NOT NULL,
        window_start DATETIME(6) NOT NULL COMMENT 'UTC',
        window_end DATETIME(6) NOT NULL COMMENT 'UTC, exclusive',
        status VARCHAR(16) NOT NULL,
        status_reason VARCHAR(255) NOT NULL,
        slot_start DATETIME(6) NOT NULL COMMENT 'UTC start of the slot slot_budget belongs to',
        slot_budget {MONEY} NOT NULL,
        last_sequence BIGINT NOT NULL COMMENT 'offset of the last instruction applied',
        created_at DATETIME(6) NOT NULL,
        updated_at DATETIME(6) NOT NULL COMMENT 'UTC; ad servers refresh from it',
        KEY ix_campaigns_updated_at (updated_at),
        KEY ix_campaigns_status (status)
    """,
    "users": """
        id VARCHAR(64) NOT NULL PRIMARY KEY,
        age SMALLINT NOT NULL,
        gender VARCHAR(1) NOT NULL,
        income_bucket VARCHAR(1) NOT NULL,
        device_type VARCHAR(32) NOT NULL,
        city VARCHAR(100) NOT NULL,
        state VARCHAR(100) NOT NULL
    """,
    "served_ads": f"""
        request_id VARCHAR(36) NOT NULL PRIMARY KEY,
        campaign_id VARCHAR(64) NOT NULL,
        user_id VARCHAR(64) NOT NULL,
        device_type VARCHAR(32) NOT NULL,
        city VARCHAR(100) NOT NULL,
        state VARCHAR(100) NOT NULL,
        country VARCHAR(100) NOT NULL,
        auction_cpm {MONEY} NOT NULL,
        auction_cpc {MONEY} NOT NULL,
        auction_cpa {MONEY} NOT NULL,
        bid_cpm {MONEY} NOT NULL,
        bidders SMALLINT NOT NULL,
        target_age_start SMALLINT NOT NULL,
        target_age_end SMALLINT NOT NULL,
        target_location VARCHAR(320) NOT NULL,
        target_gender VARCHAR(8) NOT NULL,
        target_income_bucket VARCHAR(8) NOT NULL,
        target_device VARCHAR(32) NOT NULL,
        campaign_start_time DATETIME(6) NOT NULL,
        campaign_end_time DATETIME(6) NOT NULL,
        served_at DATETIME(6) NOT NULL,
        KEY ix_served_ads_campaign (campaign_id),
        KEY ix_served_ads_served_at (served_at)
    """,
    "feedback": f"""
        request_id VARCHAR(36) NOT NULL PRIMARY KEY COMMENT 'at most one feedback per served ad',
        campaign_id VARCHAR(64) NOT NULL,
        user_id VARCHAR(64) NOT NULL,
        view SMALLINT NOT NULL,
        click SMALLINT NOT NULL,
        acquisition SMALLINT NOT NULL,
        user_action VARCHAR(16) NOT NULL,
        expenditure {MONEY} NOT NULL,
        recorded_at DATETIME(6) NOT NULL,
        KEY ix_feedback_campaign (campaign_id)
    """,
    "feedback_outbox": """
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        request_id VARCHAR(36) NOT NULL,
        campaign_id VARCHAR(64) NOT NULL,
        event BLOB NOT NULL COMMENT 'serialized adplatform.v1.FeedbackEvent',
        created_at DATETIME(6) NOT NULL,
        published_at DATETIME(6) NULL,
        UNIQUE KEY uq_feedback_outbox_request (request_id),
        KEY ix_feedback_outbox_pending (published_at, id)
    """,
    "campaign_kpis": f"""
        campaign_id VARCHAR(64) NOT NULL,
        minute DATETIME(6) NOT NULL,
        impressions BIGINT NOT NULL,
        clicks BIGINT NOT NULL,
        acquisitions BIGINT NOT NULL,
        ctr DECIMAL(12,8) NOT NULL,
        conversion_rate DECIMAL(12,8) NOT NULL,
        spend {MONEY} NOT NULL,
        ecpm {MONEY} NOT NULL,
        updated_at DATETIME(6) NOT NULL,
        PRIMARY KEY (campaign_id, minute)
    """,
}


def upgrade() -> None:
    for name, columns in TABLES.items():
        op.execute(
            f"CREATE TABLE {name} ({columns}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
            "COLLATE=utf8mb4_unicode_ci"
        )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.execute(f"DROP TABLE {name}")
