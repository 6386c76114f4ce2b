"""The registry in the database: organisations, residents, devices, and the home's details.

Each home of an older database gets one resident row from its `resident_name` (consent not
recorded: `{}`), so that every home has its resident to export or erase.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002_registry"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="Asia/Shanghai",
                  nullable=False),
        sa.Column("language", sa.String(length=16), server_default="zh-CN", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "devices",
        sa.Column("home_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=32), server_default="", nullable=False),
        sa.Column("label", sa.String(length=200), server_default="", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["home_id"], ["homes.id"]),
        sa.PrimaryKeyConstraint("home_id", "id"),
    )
    residents = op.create_table(
        "residents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("home_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sex", sa.String(length=16), server_default="", nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=40), server_default="", nullable=False),
        sa.Column("care_categories", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("conditions", sa.Text(), server_default="", nullable=False),
        sa.Column("allergies", sa.Text(), server_default="", nullable=False),
        sa.Column("medical_notes", sa.Text(), server_default="", nullable=False),
        sa.Column("consent", sa.JSON(), server_default="{}", nullable=False),
        sa.Column("consent_at", sa.Float(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["home_id"], ["homes.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_residents_home_id"), "residents", ["home_id"], unique=False)
    op.add_column("caregivers", sa.Column("phone", sa.String(length=40), server_default="",
                                          nullable=False))
    op.add_column("homes", sa.Column("door_notes", sa.Text(), server_default="", nullable=False))
    op.add_column("homes", sa.Column("key_notes", sa.Text(), server_default="", nullable=False))
    op.add_column("homes", sa.Column("phone", sa.String(length=40), server_default="",
                                     nullable=False))
    op.add_column("homes", sa.Column("lat", sa.Float(), nullable=True))
    op.add_column("homes", sa.Column("lon", sa.Float(), nullable=True))
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("organisation_id", sa.String(length=64), nullable=True))
        batch.create_foreign_key("sites_organisation_id_fkey", "organisations",
                                 ["organisation_id"], ["id"])
    homes = sa.table("homes", sa.column("id", sa.String), sa.column("resident_name", sa.String),
                     sa.column("active", sa.Boolean))
    connection = op.get_bind()
    rows = connection.execute(sa.select(homes.c.id, homes.c.resident_name, homes.c.active))
    op.bulk_insert(residents, [
        {"id": f"r-{secrets.token_hex(4)}", "home_id": home_id, "name": name,
         "care_categories": [], "consent": {}, "active": bool(active)}
        for home_id, name, active in rows.all()])


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_constraint("sites_organisation_id_fkey", type_="foreignkey")
        batch.drop_column("organisation_id")
    with op.batch_alter_table("homes") as batch:
        for column in ("lon", "lat", "phone", "key_notes", "door_notes"):
            batch.drop_column(column)
    with op.batch_alter_table("caregivers") as batch:
        batch.drop_column("phone")
    op.drop_index(op.f("ix_residents_home_id"), table_name="residents")
    op.drop_table("residents")
    op.drop_table("devices")
    op.drop_table("organisations")
