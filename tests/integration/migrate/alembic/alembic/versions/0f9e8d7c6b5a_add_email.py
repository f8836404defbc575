"""add email

Revision ID: 0f9e8d7c6b5a
Revises: 1a2b3c4d5e6f
Create Date: 2024-01-02 10:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0f9e8d7c6b5a'
down_revision: Union[str, None] = '1a2b3c4d5e6f'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('users', sa.Column('email', sa.Text))


def downgrade() -> None:
    op.drop_column('users', 'email')
