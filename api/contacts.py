"""Contacts: the seed's "List contacts" (POST /contacts/bulk comes next)."""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query
from sqlalchemy.engine import Engine

from api.deps import caller, engine
from core.history import list_contacts

router = APIRouter(dependencies=[Depends(caller)], tags=["contacts"])


def _metadata(text: str | None):
    """The stored object, or its text when Python cannot read it back (a 9,000-digit number)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


@router.get("/contacts")
def contacts(import_id: str | None = None, email: str | None = None,
             limit: int = Query(default=100, ge=1, le=1000), offset: int = Query(default=0, ge=0),
             db: Engine = Depends(engine)) -> dict:
    """Stored contacts: those an import linked (import_id), the one with an email, or all; paged."""
    found = list_contacts(db, import_id=import_id, email=email, limit=limit, offset=offset)
    items = [{**row, "metadata": _metadata(row["metadata"])} for row in found.to_dict("records")]
    return {"items": items, "limit": limit, "offset": offset}
