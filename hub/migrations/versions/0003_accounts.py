"""People who log in and their tokens: users (argon2 password hashes) and access tokens
(sessions, caregivers' device logins, integration API tokens; only their SHA-256 is kept).

No user is created: an administrator makes the first one with `bedwatch hub create-admin`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_accounts"
down_revision = "0002_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("sites", sa.JSON(), nullable=False),
        sa.Column("home", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("password_changed_at", sa.Float(), nullable=True),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["caregivers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("sites", sa.JSON(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.Column("last_used_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["caregivers.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("access_tokens") as batch:
        batch.create_index("ix_access_tokens_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_tokens") as batch:
        batch.drop_index("ix_access_tokens_user_id")
    op.drop_table("access_tokens")
    op.drop_table("users")
