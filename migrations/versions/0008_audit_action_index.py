"""audit events by action past an id: the signal rules' cursor over CRM field changes reads
only those, never the whole audit trail

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_action", "auditevent", ["team_id", "action", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_action", table_name="auditevent")
