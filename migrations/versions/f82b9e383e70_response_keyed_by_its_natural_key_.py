"""response keyed by its natural key (metrics.md section 3), without rowid on SQLite

Revision ID: f82b9e383e70
Revises: f23586151153
Create Date: 2026-11-22 08:44:32.913032

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f82b9e383e70'
down_revision = 'f23586151153'
branch_labels = None
depends_on = None


KEY = ["family_id", "member_id", "session_id", "informant", "target", "instrument", "item"]


def _columns():
    return [
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("informant", sa.Enum("self", "therapist", name="informant", native_enum=False, create_constraint=True),
                  nullable=False),
        sa.Column("target", sa.Enum("therapist", "team", name="target", native_enum=False, create_constraint=True),
                  nullable=False),
        sa.Column("instrument", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["family_id", "member_id"], ["member.family_id", "member.id"],
                                name=op.f("fk_response_family_id_member_id_member"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["family_id", "session_id"], ["therapy_session.family_id", "therapy_session.id"],
                                name=op.f("fk_response_family_id_session_id_therapy_session"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["family_id"], ["family.id"], name=op.f("fk_response_family_id_family"),
                                ondelete="CASCADE"),
    ]


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a primary key in place: build the new table (its key is its storage) and copy.
        op.create_table("response_new", *_columns(), sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_response")),
                        sqlite_with_rowid=False)
        columns = ", ".join(KEY + ["value", "created_at"])
        op.execute(f"INSERT INTO response_new ({columns}) SELECT {columns} FROM response")
        op.drop_table("response")
        op.rename_table("response_new", "response")
    else:
        op.drop_constraint("uq_response_key", "response", type_="unique")
        op.drop_constraint("pk_response", "response", type_="primary")
        op.drop_column("response", "id")
        op.create_primary_key("pk_response", "response", KEY)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.create_table("response_old", sa.Column("id", sa.Integer(), nullable=False), *_columns(),
                        sa.PrimaryKeyConstraint("id", name=op.f("pk_response")),
                        sa.UniqueConstraint(*KEY, name="uq_response_key"))
        columns = ", ".join(KEY + ["value", "created_at"])
        op.execute(f"INSERT INTO response_old ({columns}) SELECT {columns} FROM response")
        op.drop_table("response")
        op.rename_table("response_old", "response")
    else:
        op.drop_constraint("pk_response", "response", type_="primary")
        op.add_column("response", sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False))
        op.create_primary_key("pk_response", "response", ["id"])
        op.create_unique_constraint("uq_response_key", "response", KEY)
