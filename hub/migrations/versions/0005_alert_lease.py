"""Alert ownership across several hubs: each active alert has an owning hub and a lease that
the owner renews; each page being delivered has the hub that claimed it and until when.

Rows of an older database start unowned: the first hub to tick takes them over.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_alert_lease"
down_revision = "0004_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.Float(), nullable=True))
        batch.create_index("ix_alerts_owner", ["owner"], unique=False)
    with op.batch_alter_table("pages") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("claim_until", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pages") as batch:
        batch.drop_column("claim_until")
        batch.drop_column("claimed_by")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_owner")
        batch.drop_column("lease_until")
        batch.drop_column("owner")
