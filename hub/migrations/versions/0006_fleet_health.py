"""The fleet's health for the monitoring desk: each agent's last state, since when it holds
and when it was last heard; each device's last report, battery, fault and silence.

Kept in SQL so that a restarted hub still knows how long a home has been offline. An older
database starts with both tables empty: they fill as agents and devices report.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_fleet_health"
down_revision = "0005_alert_lease"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_agents",
        sa.Column("home", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("outbox_depth", sa.Integer(), nullable=True),
        sa.Column("clock_synced", sa.Boolean(), nullable=True),
        sa.Column("clock_skew_s", sa.Float(), nullable=True),
        sa.Column("uptime_s", sa.Float(), nullable=True),
        sa.Column("degraded", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("home"),
    )
    op.create_table(
        "fleet_devices",
        sa.Column("home", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=True),
        sa.Column("last_report_at", sa.Float(), nullable=True),
        sa.Column("last_seen_edge", sa.Float(), nullable=True),
        sa.Column("battery_pct", sa.Float(), nullable=True),
        sa.Column("battery_low", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("fault_kind", sa.String(length=48), nullable=True),
        sa.Column("fault", sa.String(length=200), nullable=True),
        sa.Column("fault_since", sa.Float(), nullable=True),
        sa.Column("silent", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("silent_since", sa.Float(), nullable=True),
        sa.Column("supervision_s", sa.Float(), nullable=True),
        sa.Column("errors", sa.JSON(), server_default="{}", nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("home", "device"),
    )


def downgrade() -> None:
    op.drop_table("fleet_devices")
    op.drop_table("fleet_agents")
