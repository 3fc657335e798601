"""Durable state: SQLAlchemy Core over SQLite by default, PostgreSQL to scale out.

Open with ``await Store.open(url)``; the schema is created or migrated (Alembic) on open.
"""

from junbridge.store.engine import to_async_url, to_sync_url
from junbridge.store.records import Accepted, ConversationState, OutboxRow, Timer
from junbridge.store.store import Store
from junbridge.store.transaction import Transaction

__all__ = [
    "Accepted",
    "ConversationState",
    "OutboxRow",
    "Store",
    "Timer",
    "Transaction",
    "to_async_url",
    "to_sync_url",
]
