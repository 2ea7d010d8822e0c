"""opaque turn ids for clients, and the content hash that makes idempotency keys safe to reuse-check

Revision ID: 0003
Revises: 0002
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("public_id", sa.String(32), nullable=True))
    turns = sa.table("turns", sa.column("id", sa.Integer), sa.column("public_id", sa.String))
    conn = op.get_bind()
    for (turn_id,) in conn.execute(sa.select(turns.c.id).where(turns.c.public_id.is_(None))).all():
        conn.execute(turns.update().where(turns.c.id == turn_id).values(public_id=secrets.token_urlsafe(16)))
    op.create_index("ix_turns_public_id", "turns", ["public_id"], unique=True)
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("request_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("request_hash")
    op.drop_index("ix_turns_public_id", "turns")
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("public_id")
