"""member email address and language

Revision ID: b7e2d4f1a9c3
Revises: 3c1f0a9d2b7e
Create Date: 2026-12-09 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e2d4f1a9c3'
down_revision = '3c1f0a9d2b7e'
branch_labels = None
depends_on = None


def upgrade():
    # Both optional: existing members keep no address and follow the installation's language.
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('language', sa.Enum('nl', 'en', name='member_language', native_enum=False, create_constraint=True), nullable=True))


def downgrade():
    with op.batch_alter_table('member', schema=None) as batch_op:
        # SQLite's batch copy would keep the column's CHECK and fail on the missing column.
        batch_op.drop_constraint(op.f('ck_member_member_language'), type_='check')
        batch_op.drop_column('language')
        batch_op.drop_column('email')
