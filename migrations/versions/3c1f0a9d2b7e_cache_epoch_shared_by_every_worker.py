"""cache epoch shared by every worker

Revision ID: 3c1f0a9d2b7e
Revises: cd0ee99da54b
Create Date: 2026-12-02 13:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c1f0a9d2b7e'
down_revision = 'cd0ee99da54b'
branch_labels = None
depends_on = None


def upgrade():
    cache_epoch = op.create_table('cache_epoch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cache_epoch'))
    )
    # The one row every worker reads.
    op.bulk_insert(cache_epoch, [{'id': 1, 'value': 0}])


def downgrade():
    op.drop_table('cache_epoch')
