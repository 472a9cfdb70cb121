"""api tokens for the FHIR read API (issue 18)

Revision ID: c18a0f3b9d21
Revises: 5b7e2f91c4a3
Create Date: 2026-12-03 12:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c18a0f3b9d21'
down_revision = '5b7e2f91c4a3'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
