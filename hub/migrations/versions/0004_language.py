"""Languages: each person may have their own (unset: their organisation's), and an
organisation's language is stored as the catalogue names it (`zh_CN`, `en`).

Organisations of an older database said `zh-CN`: they become `zh_CN`; any tag that is not a
supported language becomes the default, Simplified Chinese.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_language"
down_revision = "0003_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("caregivers", sa.Column("language", sa.String(length=16), nullable=True))
    with op.batch_alter_table("organisations") as batch:
        batch.alter_column("language", existing_type=sa.String(length=16),
                           existing_nullable=False, server_default="zh_CN")
    op.execute("UPDATE organisations SET language = 'en' WHERE lower(language) LIKE 'en%'")
    op.execute("UPDATE organisations SET language = 'zh_CN' WHERE language <> 'en'")


def downgrade() -> None:
    op.execute("UPDATE organisations SET language = 'zh-CN' WHERE language = 'zh_CN'")
    with op.batch_alter_table("organisations") as batch:
        batch.alter_column("language", existing_type=sa.String(length=16),
                           existing_nullable=False, server_default="zh-CN")
    with op.batch_alter_table("caregivers") as batch:
        batch.drop_column("language")
