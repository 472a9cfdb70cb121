"""expected trajectory and supervision notes (issue 20)

``expected_trajectory`` keeps metrics.md section 10 per target and session number with the basis
it was computed from; ``supervision_note`` the dated reflection notes on a therapist's profile
(gone with the therapist's account); ``family_summary.flag_below_expected`` the caseload's flag.

Revision ID: d20b7e4c1a55
Revises: c18a0f3b9d21
Create Date: 2026-12-03 12:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd20b7e4c1a55'
down_revision = 'c18a0f3b9d21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('expected_trajectory',
    sa.Column('target', sa.Enum('therapist', 'team', name='expected_target', native_enum=False, create_constraint=True, length=9), nullable=False),
    sa.Column('session', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('p10', sa.Float(), nullable=True),
    sa.Column('p25', sa.Float(), nullable=True),
    sa.Column('p50', sa.Float(), nullable=True),
    sa.Column('p75', sa.Float(), nullable=True),
    sa.Column('p90', sa.Float(), nullable=True),
    sa.Column('basis', sa.String(length=64), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('session >= 1', name=op.f('ck_expected_trajectory_session_positive')),
    sa.PrimaryKeyConstraint('target', 'session', name=op.f('pk_expected_trajectory'))
    )
    op.create_table('supervision_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.CheckConstraint('length(text) <= 2000', name=op.f('ck_supervision_note_text_length')),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_supervision_note_author_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['therapist_id'], ['user.id'], name=op.f('fk_supervision_note_therapist_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_note'))
    )
    with op.batch_alter_table('supervision_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_note_therapist_id'), ['therapist_id'], unique=False)

    # Existing summaries get the flag false; the next refresh computes it.
    with op.batch_alter_table('family_summary', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flag_below_expected', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('family_summary', schema=None) as batch_op:
        batch_op.alter_column('flag_below_expected', server_default=None)


def downgrade():
    with op.batch_alter_table('family_summary', schema=None) as batch_op:
        batch_op.drop_column('flag_below_expected')

    with op.batch_alter_table('supervision_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_note_therapist_id'))

    op.drop_table('supervision_note')
    op.drop_table('expected_trajectory')
