"""The HTTP status of every recorded model call (failed tries are recorded too).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_code", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.drop_column("status_code")
