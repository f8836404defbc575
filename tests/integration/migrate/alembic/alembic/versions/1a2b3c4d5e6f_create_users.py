"""create users

Revision ID: 1a2b3c4d5e6f
Revises:
Create Date: 2024-01-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '1a2b3c4d5e6f'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('users', sa.Column('id', sa.BigInteger, primary_key=True))


def downgrade():
    op.drop_table('users')
