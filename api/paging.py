"""Paging of the API's lists (issue 21, point 4): a cursor in each page, and a bounded offset.

OFFSET makes PostgreSQL read and drop every row before the page: `offset=2147483647` on 4M contacts
took 5.3 s, and a few such calls slowed everyone. A cursor holds the sort key of a page's last row
(the next page starts after it, by index), so any page costs what the first does. `offset` keeps
working for existing clients up to MAX_OFFSET.

A cursor is opaque to clients: the list it belongs to and the key, as base64url JSON. It is not
signed: a client that forges one only chooses where its list starts, which the filters already let
it do.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from uuid import UUID

from fastapi import HTTPException, Request

MAX_OFFSET = 10_000
LISTS = {"contacts": (UUID,), "import contacts": (str,), "imports": (datetime, UUID)}


def check_paging(offset: int, cursor: str | None) -> None:
    if cursor is not None and offset:
        raise HTTPException(400, "Send either offset or cursor, not both: a cursor already says where the page starts.")
    if offset > MAX_OFFSET:
        raise HTTPException(400, f"offset is at most {MAX_OFFSET:,}. To read further, follow the pages' "
                                 "`next` link (or send their `next_cursor` as `cursor`): any page then costs "
                                 "what the first does.")


def encode_cursor(kind: str, *key) -> str:
    text = json.dumps([kind, *(str(part) for part in key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str) -> tuple | None:
    """The key a cursor of this list holds (None without one); 400 for anything else."""
    if cursor is None:
        return None
    try:
        found, *parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        types = LISTS[kind]
        if found != kind or len(parts) != len(types):
            raise ValueError(found)
        return tuple(kind_of(part) if kind_of is not datetime else datetime.fromisoformat(part)
                     for kind_of, part in zip(types, parts))
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise HTTPException(400, "This cursor is not one this list gave: send the `next_cursor` of the page "
                                 "before, or start again without a cursor.") from None


def page(request: Request, items: list[dict], limit: int, offset: int, kind: str, key_of) -> dict:
    """The answer: at most `limit` items (the caller fetched one more, to know whether a page
    follows), and the cursor and link to the next page, or null on the last one."""
    more = len(items) > limit
    items = items[:limit]
    cursor = encode_cursor(kind, *key_of(items[-1])) if more else None
    link = None
    if cursor is not None:
        query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "offset")]
        query.append(("cursor", cursor))
        link = str(request.url.replace(query="").include_query_params(**dict(query)))
    return {"items": items, "limit": limit, "offset": offset, "next_cursor": cursor, "next": link}
