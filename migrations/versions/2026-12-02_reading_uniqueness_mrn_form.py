"""one active reading per target and instant; MRNs in their normalised form; idempotency_record.applied_at

Carrying existing data forward:
- Active readings that share a target and an instant: the earliest stored one stays, every later one is
  voided (status entered_in_error, a new version, and a reading_version row whose reason says why), so the
  history keeps what was recorded. Their clinics get `rules_version` 1, so `blocktrack migrate` / `serve`
  re-evaluate them (api/migrate.py) without the voided duplicates.
- MRNs are NFC-normalised, stripped of control and format characters and surrounding whitespace, as the
  API now does at create and lookup. Two patients of one clinic whose MRNs collapse into one are NOT merged
  (that is a clinical decision): the patient already holding the normalised form keeps it, else the oldest
  gets it; every other one keeps its MRN as stored, and the migration logs their ids for a person to
  reconcile. A lookup by MRN then finds the one holding the normalised form.

An in-flight idempotency record left from before the upgrade may belong to a request that did commit (the
old code could not tell), so it gets applied_at = created_at: held until it expires, as it was before.

Downgrade drops the index and the column; voided duplicates stay voided and MRNs stay normalised (both are valid data for
the earlier schema, and the original forms were not kept).

Revision ID: e7c1d2e3f4a5
Revises: 8a2b3c4d5e68
Create Date: 2026-12-02 16:40:00.000000
"""

import logging
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'e7c1d2e3f4a5'
down_revision: str | None = '8a2b3c4d5e68'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger('alembic.runtime.migration')
ACTIVE = "status = 'active'"
WHEN = models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    _void_duplicate_readings()
    with op.batch_alter_table('reading', schema=None) as batch_op:
        batch_op.create_index(
            'uq_reading_active_target_time', ['target_id', 'recorded_at'], unique=True,
            sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE),
        )
    _normalise_mrns()
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applied_at', models.base.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE idempotency_record SET applied_at = created_at WHERE state = 'in_flight'")


def downgrade() -> None:
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.drop_column('applied_at')
    with op.batch_alter_table('reading', schema=None) as batch_op:
        batch_op.drop_index('uq_reading_active_target_time', sqlite_where=sa.text(ACTIVE),
                            postgresql_where=sa.text(ACTIVE))


def _void_duplicate_readings() -> None:
    bind = op.get_bind()
    reading = sa.table(
        'reading', sa.column('id', sa.Uuid()), sa.column('clinic_id', sa.Uuid()), sa.column('target_id', sa.Uuid()),
        sa.column('recorded_at', WHEN), sa.column('score', sa.Integer()), sa.column('status', sa.String()),
        sa.column('version', sa.Integer()), sa.column('created_at', WHEN),
    )
    versions = sa.table(
        'reading_version', sa.column('id', sa.Uuid()), sa.column('reading_id', sa.Uuid()),
        sa.column('version', sa.Integer()), sa.column('score', sa.Integer()), sa.column('recorded_at', WHEN),
        sa.column('status', sa.String()), sa.column('changed_at', WHEN), sa.column('reason', sa.Text()),
    )
    rows = bind.execute(
        sa.select(reading).where(reading.c.status == 'active')
        .order_by(reading.c.target_id, reading.c.recorded_at, reading.c.created_at, reading.c.id)
    ).mappings().all()
    seen, later = set(), []
    for row in rows:
        place = (row['target_id'], row['recorded_at'])
        (later.append(row) if place in seen else seen.add(place))
    if not later:
        return
    now = datetime.now(UTC)
    for row in later:
        bind.execute(reading.update().where(reading.c.id == row['id'])
                     .values(status='entered_in_error', version=row['version'] + 1))
    bind.execute(versions.insert(), [
        {'id': uuid.uuid4(), 'reading_id': r['id'], 'version': r['version'] + 1, 'score': r['score'],
         'recorded_at': r['recorded_at'], 'status': 'entered_in_error', 'changed_at': now,
         'reason': 'a second active reading for this target at this instant (voided by migration e7c1d2e3f4a5)'}
        for r in later
    ])
    clinic = sa.table('clinic', sa.column('id', sa.Uuid()), sa.column('rules_version', sa.Integer()))
    affected = sorted({r['clinic_id'] for r in later})
    bind.execute(clinic.update().where(clinic.c.id.in_(affected)).values(rules_version=1))
    log.warning('voided %d duplicate reading(s) in %d clinic(s)', len(later), len(affected))


def _normalised(mrn: str) -> str:
    # The rule of api/clinical/identifiers.py as of this revision (a migration must not change with the app).
    composed = unicodedata.normalize('NFC', mrn)
    return ''.join(c for c in composed if unicodedata.category(c) not in ('Cc', 'Cf')).strip()


def _normalise_mrns() -> None:
    bind = op.get_bind()
    patient = sa.table('patient', sa.column('id', sa.Uuid()), sa.column('clinic_id', sa.Uuid()),
                       sa.column('mrn', sa.String()), sa.column('created_at', WHEN))
    rows = bind.execute(sa.select(patient).order_by(patient.c.created_at, patient.c.id)).mappings().all()
    taken = {(r['clinic_id'], r['mrn']) for r in rows}
    kept = []
    for row in rows:
        mrn = _normalised(row['mrn'])
        if mrn == row['mrn']:
            continue
        if not mrn or (row['clinic_id'], mrn) in taken:
            kept.append(str(row['id']))  # collides with another patient (or is blank): left as stored
            continue
        taken.add((row['clinic_id'], mrn))
        bind.execute(patient.update().where(patient.c.id == row['id']).values(mrn=mrn))
    if kept:
        log.warning('MRN left as stored, its normalised form belongs to another patient: %s', ', '.join(kept))
