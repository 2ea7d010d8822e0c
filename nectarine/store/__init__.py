"""Where tickets and conversations are kept: one database (``database``), the ticket store with its
delivery outbox (``tickets``), and the conversation log with feedback (``conversations``). The schema
lives in ``migrations/`` (Alembic), applied when a ``Database`` is opened."""

from .conversations import ConversationLog, TurnRow
from .database import Database, masked
from .tickets import OutboxRow, TicketRow, TicketStore

__all__ = ["ConversationLog", "Database", "OutboxRow", "TicketRow", "TicketStore", "TurnRow", "masked"]
