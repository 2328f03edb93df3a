"""clinical rules v2 (CR-22..CR-30): clinic time zone, block versions and coverage overrides, ablations,
referral fulfilment, analgesic exclusions, and the new policy settings

Carrying existing data forward:
- every clinic gets time zone UTC, and `rules_version` 1: its stored outcomes, levels and referrals were
  computed under the first rules. They are re-evaluated through the service code (the clinical engine
  is Python, not SQL) by `blocktrack migrate` and `blocktrack serve` right after the upgrade
  (api/migrate.py, `reevaluate_stale_clinics`), which sets `rules_version` 2; /readyz answers 503 until
  then. A migration cannot run that code: it has no async session, and a pass may take seconds per clinic.
- every stored policy version gets the new settings at its own profile's defaults (CR-24, CR-26).
- every block gets its history: version 1 as created, and the void for voided blocks.

Downgrade refuses while the database holds what the first schema cannot: ablations, fulfilled
referrals, coverage overrides or block corrections (their history would be lost). Outcomes, levels and
referrals stay as the second rules computed them until the next write or policy change re-evaluates.

Revision ID: a10b2c3d4e5f
Revises: b11c2d3e4f5a
Create Date: 2026-12-02 12:41:21.451803
"""

import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'a10b2c3d4e5f'
down_revision: str | None = 'b11c2d3e4f5a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

V1_PROCEDURES = "('medial_branch_block', 'intra_articular_injection')"
V2_PROCEDURES = "('medial_branch_block', 'intra_articular_injection', 'radiofrequency_ablation')"
V1_LEVEL_STATUSES = "('no_blocks', 'pending', 'awaiting_confirmation', 'referral_recommended', 'not_indicated')"
V2_LEVEL_STATUSES = (
    "('no_blocks', 'pending', 'awaiting_confirmation', 'referral_recommended', 'not_indicated', "
    "'ablated', 'repeat_rfa_eligible')"
)
V1_REFERRAL_STATUSES = "('open', 'acknowledged', 'withdrawn')"
V2_REFERRAL_STATUSES = "('open', 'acknowledged', 'withdrawn', 'fulfilled')"

# CR-24/CR-26: the profile defaults of the new settings; the others are the same for every profile.
PROFILE_SETTINGS = {
    "medicare": {"blocks_required": 2, "enforce_coverage_criteria": True},
    "consensus": {"blocks_required": 1, "enforce_coverage_criteria": False},
    "strict": {"blocks_required": 2, "enforce_coverage_criteria": False},
    "custom": {"blocks_required": 2, "enforce_coverage_criteria": False},
}
COMMON_SETTINGS = {
    "max_pair_interval_days": 180,
    "enforce_pair_interval": False,
    "repeat_rfa_threshold_pct": 50,
    "repeat_rfa_min_days": 180,
}


def _replace_check(table: str, name: str, condition: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(name), type_='check')
        batch_op.create_check_constraint(op.f(name), sa.text(condition))


def upgrade() -> None:
    op.create_table('block_version',
    sa.Column('block_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('change', sa.Enum('create', 'correct', 'void', 'override', 'override_removed', name='block_version_change', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('performed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('agent', sa.String(length=32), nullable=False),
    sa.Column('expected_relief_minutes', sa.Integer(), nullable=True),
    sa.Column('concentration_pct', sa.Numeric(precision=6, scale=3), nullable=True),
    sa.Column('volume_ml_per_nerve', sa.Numeric(precision=6, scale=3), nullable=True),
    sa.Column('sedation', sa.String(length=32), nullable=False),
    sa.Column('guidance', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('coverage_override_reason', sa.Text(), nullable=True),
    sa.Column('changed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by_key_id', sa.Uuid(), nullable=True),
    sa.Column('changed_by', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['block_id'], ['block.id'], name=op.f('fk_block_version_block_id_block')),
    sa.ForeignKeyConstraint(['changed_by_key_id'], ['api_key.id'], name=op.f('fk_block_version_changed_by_key_id_api_key')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_block_version')),
    sa.UniqueConstraint('block_id', 'version', name=op.f('uq_block_version_block_id_version'))
    )
    with op.batch_alter_table('block', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coverage_override_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('coverage_override_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('coverage_override_by_key_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('coverage_override_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_block_coverage_override_by_key_id_api_key'), 'api_key', ['coverage_override_by_key_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_block_block_procedure'), type_='check')
        batch_op.create_check_constraint(op.f('ck_block_block_procedure'), sa.text(f"procedure IN {V2_PROCEDURES}"))
        batch_op.create_check_constraint(op.f('ck_block_rfa_is_therapeutic'), sa.text("procedure <> 'radiofrequency_ablation' OR intent = 'therapeutic'"))
        batch_op.create_check_constraint(op.f('ck_block_override_complete'), sa.text("(coverage_override_reason IS NULL) = (coverage_override_at IS NULL)"))

    with op.batch_alter_table('clinic', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), server_default=sa.text("'UTC'"), nullable=False))
        batch_op.add_column(sa.Column('rules_version', sa.Integer(), server_default=sa.text('1'), nullable=False))

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fulfilled_by_block_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('fulfilled_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_referral_fulfilled_by_block_id_block'), 'block', ['fulfilled_by_block_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_referral_referral_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_referral_referral_status'), sa.text(f"status IN {V2_REFERRAL_STATUSES}"))
        batch_op.create_check_constraint(op.f('ck_referral_fulfilment_complete'), sa.text("(status = 'fulfilled') = (fulfilled_by_block_id IS NOT NULL AND fulfilled_at IS NOT NULL)"))

    _replace_check('level', 'ck_level_level_status', f"status IN {V2_LEVEL_STATUSES}")

    with op.batch_alter_table('target_outcome', schema=None) as batch_op:
        batch_op.add_column(sa.Column('excluded_readings', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(sa.Column('relief_ended', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('context_warnings', sa.JSON(), nullable=True))

    _policy_settings_forward()
    _block_history()


def _policy_settings_forward() -> None:
    """Every stored policy version gains the new settings at its profile's defaults (kept if present)."""
    bind = op.get_bind()
    policy = sa.table('policy_version', sa.column('id', sa.Uuid()), sa.column('profile', sa.String()),
                      sa.column('settings', sa.JSON()))
    for row in bind.execute(sa.select(policy.c.id, policy.c.profile, policy.c.settings)).all():
        settings = _loaded(row.settings)
        defaults = {**COMMON_SETTINGS, **PROFILE_SETTINGS.get(row.profile, PROFILE_SETTINGS['custom'])}
        bind.execute(policy.update().where(policy.c.id == row.id).values(settings={**defaults, **settings}))


def _loaded(value: object) -> dict:
    return dict(json.loads(value) if isinstance(value, str) else value or {})


def _block_history() -> None:
    """Version 1 of every block as it was created, and its void as the next version for a voided one."""
    bind = op.get_bind()
    when = models.base.UTCDateTime(timezone=True)
    block = sa.table(
        'block', sa.column('id', sa.Uuid()), sa.column('performed_at', when), sa.column('agent', sa.String()),
        sa.column('expected_relief_minutes', sa.Integer()), sa.column('concentration_pct', sa.Numeric(6, 3)),
        sa.column('volume_ml_per_nerve', sa.Numeric(6, 3)), sa.column('sedation', sa.String()),
        sa.column('guidance', sa.String()), sa.column('status', sa.String()), sa.column('version', sa.Integer()),
        sa.column('created_at', when), sa.column('created_by_key_id', sa.Uuid()), sa.column('voided_at', when),
        sa.column('void_reason', sa.Text()),
    )
    key = sa.table('api_key', sa.column('id', sa.Uuid()), sa.column('name', sa.String()))
    versions = sa.table(
        'block_version', sa.column('id', sa.Uuid()), sa.column('block_id', sa.Uuid()),
        sa.column('version', sa.Integer()), sa.column('change', sa.String()), sa.column('performed_at', when),
        sa.column('agent', sa.String()), sa.column('expected_relief_minutes', sa.Integer()),
        sa.column('concentration_pct', sa.Numeric(6, 3)), sa.column('volume_ml_per_nerve', sa.Numeric(6, 3)),
        sa.column('sedation', sa.String()), sa.column('guidance', sa.String()), sa.column('status', sa.String()),
        sa.column('coverage_override_reason', sa.Text()), sa.column('changed_at', when),
        sa.column('changed_by_key_id', sa.Uuid()), sa.column('changed_by', sa.Text()), sa.column('reason', sa.Text()),
    )
    query = sa.select(block, key.c.name.label('key_name')).outerjoin(key, key.c.id == block.c.created_by_key_id)
    rows = []
    for b in bind.execute(query).mappings():
        voided = b['status'] == 'entered_in_error'
        first = b['version'] - 1 if voided else b['version']
        snapshot = {name: b[name] for name in ('performed_at', 'agent', 'expected_relief_minutes',
                                               'concentration_pct', 'volume_ml_per_nerve', 'sedation', 'guidance')}
        rows.append({'id': uuid.uuid4(), 'block_id': b['id'], 'version': max(first, 1), 'change': 'create',
                     **snapshot, 'status': 'active', 'coverage_override_reason': None,
                     'changed_at': b['created_at'], 'changed_by_key_id': b['created_by_key_id'],
                     'changed_by': b['key_name'], 'reason': None})
        if voided:
            rows.append({**rows[-1], 'id': uuid.uuid4(), 'version': max(b['version'], 2), 'change': 'void',
                         'status': 'entered_in_error', 'changed_at': b['voided_at'] or b['created_at'],
                         'changed_by_key_id': None, 'changed_by': None, 'reason': b['void_reason']})
    if rows:
        bind.execute(versions.insert(), rows)


def _refuse_lossy_downgrade() -> None:
    bind = op.get_bind()
    checks = {
        "radiofrequency ablations": "SELECT count(*) FROM block WHERE procedure = 'radiofrequency_ablation'",
        "fulfilled referrals": "SELECT count(*) FROM referral WHERE status = 'fulfilled'",
        "coverage overrides": "SELECT count(*) FROM block_version WHERE change IN ('override', 'override_removed')",
        "block corrections": "SELECT count(*) FROM block_version WHERE change = 'correct'",
    }
    found = {what: bind.execute(sa.text(sql)).scalar_one() for what, sql in checks.items()}
    held = [f"{count} {what}" for what, count in found.items() if count]
    if held:
        raise RuntimeError(
            "Cannot downgrade below clinical rules v2: the database holds " + ", ".join(held)
            + ", which the earlier schema cannot keep. Export or void them first."
        )


def _policy_settings_back() -> None:
    bind = op.get_bind()
    policy = sa.table('policy_version', sa.column('id', sa.Uuid()), sa.column('settings', sa.JSON()))
    new_keys = {*COMMON_SETTINGS, 'blocks_required', 'enforce_coverage_criteria'}
    for row in bind.execute(sa.select(policy.c.id, policy.c.settings)).all():
        settings = {k: v for k, v in _loaded(row.settings).items() if k not in new_keys}
        bind.execute(policy.update().where(policy.c.id == row.id).values(settings=settings))


def downgrade() -> None:
    _refuse_lossy_downgrade()
    _policy_settings_back()
    with op.batch_alter_table('target_outcome', schema=None) as batch_op:
        batch_op.drop_column('context_warnings')
        batch_op.drop_column('relief_ended')
        batch_op.drop_column('excluded_readings')

    _replace_check('level', 'ck_level_level_status', f"status IN {V1_LEVEL_STATUSES}")

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_referral_fulfilment_complete'), type_='check')
        batch_op.drop_constraint(op.f('ck_referral_referral_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_referral_referral_status'), sa.text(f"status IN {V1_REFERRAL_STATUSES}"))
        batch_op.drop_constraint(batch_op.f('fk_referral_fulfilled_by_block_id_block'), type_='foreignkey')
        batch_op.drop_column('fulfilled_at')
        batch_op.drop_column('fulfilled_by_block_id')

    with op.batch_alter_table('clinic', schema=None) as batch_op:
        batch_op.drop_column('rules_version')
        batch_op.drop_column('time_zone')

    with op.batch_alter_table('block', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_block_override_complete'), type_='check')
        batch_op.drop_constraint(op.f('ck_block_rfa_is_therapeutic'), type_='check')
        batch_op.drop_constraint(op.f('ck_block_block_procedure'), type_='check')
        batch_op.create_check_constraint(op.f('ck_block_block_procedure'), sa.text(f"procedure IN {V1_PROCEDURES}"))
        batch_op.drop_constraint(batch_op.f('fk_block_coverage_override_by_key_id_api_key'), type_='foreignkey')
        batch_op.drop_column('coverage_override_at')
        batch_op.drop_column('coverage_override_by_key_id')
        batch_op.drop_column('coverage_override_by')
        batch_op.drop_column('coverage_override_reason')

    op.drop_table('block_version')
