"""expected trajectory and supervision notes (issue 20)

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
    pass


def downgrade():
    pass
