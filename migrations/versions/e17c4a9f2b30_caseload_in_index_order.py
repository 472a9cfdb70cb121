"""caseload in index order (issue 17)

``team.revision`` and ``user.assigned_revision`` stand for the families a caseload shows (its version
reads them, not every family); ``family_summary.code`` and ``rank`` (minus the concern) with the
index on (rank, code) let a page be the first rows of that index; ``family.summary_due`` with the
partial index of the families whose summary is behind (or missing) finds the stale ones without reading the
others;
``expected_trajectory.checked_at`` records when the table was last found up to date.
Existing rows are filled: the summaries' codes and ranks, which families' summaries are due.

Revision ID: e17c4a9f2b30
Revises: d20b7e4c1a55
Create Date: 2026-12-03 15:50:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e17c4a9f2b30"
down_revision = "d20b7e4c1a55"
branch_labels = None
depends_on = None

SQLITE_DUE = sa.text("summary_due = 1")  # as SQLAlchemy writes the condition on SQLite: the index must match it
POSTGRESQL_DUE = sa.text("summary_due")


def upgrade():
    # Plain ALTER TABLE ... ADD COLUMN on both databases: a batch would copy the tables on SQLite, and dropping the
    # old family or user table would delete, through their foreign keys, every row that refers to them.
    op.add_column("team", sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    op.add_column("user", sa.Column("assigned_revision", sa.Integer(), server_default="0", nullable=False))
    op.add_column("expected_trajectory", sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("family", sa.Column("summary_due", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.execute(
        "UPDATE family SET summary_due = false WHERE id IN "
        "(SELECT family_id FROM family_summary WHERE family_summary.revision = family.revision)"
    )

    with op.batch_alter_table("family_summary", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("rank", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE family_summary SET rank = -concern, "
        "code = (SELECT family.code FROM family WHERE family.id = family_summary.family_id)"
    )
    with op.batch_alter_table("family_summary", schema=None) as batch_op:
        batch_op.alter_column("code", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("rank", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index("ix_family_summary_concern")
        batch_op.create_index("ix_family_summary_rank_code", ["rank", "code"], unique=False)

    # Made after the batches (SQLite copies the tables in them, the partial index might not survive that).
    op.create_index(
        "ix_family_summary_due",
        "family",
        ["id"],
        unique=False,
        sqlite_where=SQLITE_DUE,
        postgresql_where=POSTGRESQL_DUE,
    )


def downgrade():
    op.drop_index("ix_family_summary_due", table_name="family")
    with op.batch_alter_table("family_summary", schema=None) as batch_op:
        batch_op.drop_index("ix_family_summary_rank_code")
        batch_op.create_index("ix_family_summary_concern", ["concern"], unique=False)
        batch_op.drop_column("rank")
        batch_op.drop_column("code")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later too), as the upgrade adds them.
    op.drop_column("family", "summary_due")
    op.drop_column("expected_trajectory", "checked_at")
    op.drop_column("user", "assigned_revision")
    op.drop_column("team", "revision")
