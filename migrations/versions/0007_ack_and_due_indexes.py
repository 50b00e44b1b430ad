"""ack path and due indexes: accounts by name (case-insensitive) for /report-risk; the
retention job's transcripts still holding text, by age

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:33:28.388638
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPURGED = sa.text('text_purged_at IS NULL')


def upgrade() -> None:
    op.create_index('ix_account_name_ci', 'account', ['team_id', sa.text('lower(name)')])
    op.create_index(
        'ix_transcript_unpurged',
        'transcript',
        ['created_at'],
        postgresql_where=UNPURGED,
        sqlite_where=UNPURGED,
    )


def downgrade() -> None:
    op.drop_index('ix_transcript_unpurged', table_name='transcript')
    op.drop_index('ix_account_name_ci', table_name='account')
