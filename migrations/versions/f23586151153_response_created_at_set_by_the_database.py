"""response.created_at set by the database

Revision ID: f23586151153
Revises: 7a3960d9d157
Create Date: 2026-11-22 08:38:56.575351

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f23586151153'
down_revision = '7a3960d9d157'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.alter_column('created_at', existing_type=sa.DateTime(timezone=True), existing_nullable=False,
                              server_default=sa.func.now())


def downgrade():
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.alter_column('created_at', existing_type=sa.DateTime(timezone=True), existing_nullable=False,
                              server_default=None)
