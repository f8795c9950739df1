"""The suppression list (issue 19): who is never texted, why, and how an entry was
lifted. Nothing leaves the list but by re-subscribe (the database enforces it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

EXPORT_COLUMNS = (
    "phone",
    "reason",
    "note",
    "keyword",
    "phone_number_id",
    "created_at",
    "added_by",
    "lifted_at",
    "lifted_reason",
)
MAX_IMPORT_ROWS = 5000


@dataclass(frozen=True, slots=True)
class Suppression:
    id: UUID
    phone: str | None  # None once erased: the row still matches by the number's hash
    phone_number_id: UUID | None
    reason: str  # opt_out, carrier_block, manual, complaint
    keyword: str | None
    note: str | None
    added_by: str | None
    source_message_id: UUID | None
    created_at: datetime
    lifted_at: datetime | None
    lifted_reason: str | None
    lifted_by: dict[str, Any] | None

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def export_row(self) -> list[str]:
        values: dict[str, object] = {
            "phone": self.phone,
            "reason": self.reason,
            "note": self.note,
            "keyword": self.keyword,
            "phone_number_id": self.phone_number_id,
            "created_at": self.created_at.isoformat(),
            "added_by": self.added_by,
            "lifted_at": self.lifted_at.isoformat() if self.lifted_at else None,
            "lifted_reason": self.lifted_reason,
        }
        return ["" if values[name] is None else str(values[name]) for name in EXPORT_COLUMNS]
