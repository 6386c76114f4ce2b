"""The baseline: the schema of release 0.1.0, the last made by `create_all`.

A database made by that release has these tables and no `alembic_version`; `make_engine`
stamps it with this revision before upgrading it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_status',
        sa.Column('home', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('version', sa.String(length=32), nullable=True),
        sa.Column('outbox_depth', sa.Integer(), nullable=True),
        sa.Column('clock_synced', sa.Boolean(), nullable=True),
        sa.Column('t', sa.Float(), nullable=True),
        sa.Column('updated_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('home')
    )
    op.create_table('alerts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('home', sa.String(length=64), nullable=False),
        sa.Column('device', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=48), nullable=False),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('opened_at', sa.Float(), nullable=False),
        sa.Column('first_event_t', sa.Float(), nullable=False),
        sa.Column('last_event_at', sa.Float(), nullable=False),
        sa.Column('event_count', sa.Integer(), nullable=False),
        sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
        sa.Column('acknowledged_at', sa.Float(), nullable=True),
        sa.Column('on_site_by', sa.String(length=64), nullable=True),
        sa.Column('on_site_at', sa.Float(), nullable=True),
        sa.Column('resolved_by', sa.String(length=64), nullable=True),
        sa.Column('resolved_at', sa.Float(), nullable=True),
        sa.Column('resolution', sa.String(length=32), nullable=True),
        sa.Column('resolution_note', sa.Text(), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('paging', sa.Boolean(), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('next_escalation_at', sa.Float(), nullable=True),
        sa.Column('next_reminder_at', sa.Float(), nullable=True),
        sa.Column('ack_due_at', sa.Float(), nullable=True),
        sa.Column('arrival_due_at', sa.Float(), nullable=True),
        sa.Column('ack_breached', sa.Boolean(), nullable=False),
        sa.Column('arrival_breached', sa.Boolean(), nullable=False),
        sa.Column('recovered_at', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('alerts_group', 'alerts', ['home', 'kind', 'device', 'state'], unique=False)
    op.create_index(op.f('ix_alerts_home'), 'alerts', ['home'], unique=False)
    op.create_index(op.f('ix_alerts_state'), 'alerts', ['state'], unique=False)
    op.create_table('audit',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=48), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=True),
        sa.Column('home', sa.String(length=64), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_audit_alert_id'), 'audit', ['alert_id'], unique=False)
    op.create_index(op.f('ix_audit_at'), 'audit', ['at'], unique=False)
    op.create_table('dead_letters',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.Column('topic', sa.String(length=512), nullable=False),
        sa.Column('payload', sa.LargeBinary(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('home', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_dead_letters_at'), 'dead_letters', ['at'], unique=False)
    op.create_index(op.f('ix_dead_letters_home'), 'dead_letters', ['home'], unique=False)
    op.create_table('silences',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('home', sa.String(length=64), nullable=False),
        sa.Column('by', sa.String(length=64), nullable=False),
        sa.Column('start', sa.Float(), nullable=False),
        sa.Column('end', sa.Float(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_silences_home'), 'silences', ['home'], unique=False)
    op.create_table('sites',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('ack_target_s', sa.Float(), nullable=False),
        sa.Column('arrival_target_s', sa.Float(), nullable=False),
        sa.Column('escalation', sa.JSON(), server_default='[]', nullable=False),
        sa.Column('reminder_every_s', sa.Float(), server_default='60', nullable=False),
        sa.Column('rules', sa.JSON(), server_default='{}', nullable=False),
        sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_table('caregivers',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('site_id', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('notify', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('home_id', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_table('events',
        sa.Column('home', sa.String(length=64), nullable=False),
        sa.Column('id', sa.String(length=80), nullable=False),
        sa.Column('device', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=48), nullable=False),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('t', sa.Float(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('received_at', sa.Float(), nullable=False),
        sa.Column('received_order', sa.Integer(), nullable=False),
        sa.Column('clock_untrusted', sa.Boolean(), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], ),
        sa.PrimaryKeyConstraint('home', 'id')
    )
    op.create_index(op.f('ix_events_received_order'), 'events', ['received_order'], unique=False)
    op.create_table('homes',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('site_id', sa.String(length=64), nullable=False),
        sa.Column('address', sa.String(length=400), nullable=False),
        sa.Column('resident_name', sa.String(length=200), nullable=False),
        sa.Column('doctor_notify', sa.JSON(), nullable=False),
        sa.Column('rules', sa.JSON(), server_default='{}', nullable=False),
        sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_table('pages',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('caregiver_id', sa.String(length=64), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.Float(), nullable=False),
        sa.Column('sent_at', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], ),
        sa.ForeignKeyConstraint(['caregiver_id'], ['caregivers.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_pages_alert_id'), 'pages', ['alert_id'], unique=False)
    op.create_index(op.f('ix_pages_state'), 'pages', ['state'], unique=False)
    op.create_table('rota_overrides',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('site_id', sa.String(length=64), nullable=False),
        sa.Column('caregiver_id', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('start_at', sa.Float(), nullable=False),
        sa.Column('end_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['caregiver_id'], ['caregivers.id'], ),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rota_overrides_site_id'), 'rota_overrides', ['site_id'], unique=False)
    op.create_table('rota_shifts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('site_id', sa.String(length=64), nullable=False),
        sa.Column('caregiver_id', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('days', sa.JSON(), nullable=False),
        sa.Column('start', sa.String(length=5), nullable=False),
        sa.Column('end', sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(['caregiver_id'], ['caregivers.id'], ),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rota_shifts_site_id'), 'rota_shifts', ['site_id'], unique=False)
    op.create_table('deliveries',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('page_id', sa.Integer(), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('caregiver_id', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=400), nullable=False),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['page_id'], ['pages.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_deliveries_alert_id'), 'deliveries', ['alert_id'], unique=False)
    op.create_index(op.f('ix_deliveries_page_id'), 'deliveries', ['page_id'], unique=False)


def downgrade() -> None:

    op.drop_index(op.f('ix_deliveries_page_id'), table_name='deliveries')
    op.drop_index(op.f('ix_deliveries_alert_id'), table_name='deliveries')
    op.drop_table('deliveries')
    op.drop_index(op.f('ix_rota_shifts_site_id'), table_name='rota_shifts')
    op.drop_table('rota_shifts')
    op.drop_index(op.f('ix_rota_overrides_site_id'), table_name='rota_overrides')
    op.drop_table('rota_overrides')
    op.drop_index(op.f('ix_pages_state'), table_name='pages')
    op.drop_index(op.f('ix_pages_alert_id'), table_name='pages')
    op.drop_table('pages')
    op.drop_table('homes')
    op.drop_index(op.f('ix_events_received_order'), table_name='events')
    op.drop_table('events')
    op.drop_table('caregivers')
    op.drop_table('sites')
    op.drop_index(op.f('ix_silences_home'), table_name='silences')
    op.drop_table('silences')
    op.drop_index(op.f('ix_dead_letters_home'), table_name='dead_letters')
    op.drop_index(op.f('ix_dead_letters_at'), table_name='dead_letters')
    op.drop_table('dead_letters')
    op.drop_index(op.f('ix_audit_at'), table_name='audit')
    op.drop_index(op.f('ix_audit_alert_id'), table_name='audit')
    op.drop_table('audit')
    op.drop_index(op.f('ix_alerts_state'), table_name='alerts')
    op.drop_index(op.f('ix_alerts_home'), table_name='alerts')
    op.drop_index('alerts_group', table_name='alerts')
    op.drop_table('alerts')
    op.drop_table('agent_status')
