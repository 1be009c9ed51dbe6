"""Campaigns, and attaching an import to one (step 4 of the seed's flow)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.storage import audit_log
from core.errors import CampaignNotFound, ImportConsoleError, ImportNotFound
from core.storage.records import IMPORT_LOCK, import_uuid

if TYPE_CHECKING:  # storage takes an actor to record it, and never checks its role
    from core.access import Actor


def campaign_uuid(value) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise CampaignNotFound(value) from None


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str       # as stored: an existing campaign keeps the case it was created with
    created: bool   # False: a campaign of this name (in any case) existed and is the one used


def create_campaign(engine: Engine, name: str) -> str:
    """The id of the campaign with this name (any case), created if it does not exist yet."""
    return open_campaign(engine, name).id


def open_campaign(engine: Engine, name: str) -> Campaign:
    """The campaign with this name (any case), created if it does not exist yet."""
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise ImportConsoleError("A campaign name must have 1 to 255 characters.")
    if "\x00" in name:
        raise ImportConsoleError("A campaign name cannot hold a NUL character.")
    with engine.begin() as conn:
        found = conn.execute(sa.text("SELECT id, name FROM campaigns WHERE lower(name) = lower(:n)"),
                             {"n": name}).first()
        if found:
            return Campaign(str(found.id), found.name, created=False)
        row = conn.execute(sa.text(
            "INSERT INTO campaigns (name) VALUES (:n) ON CONFLICT (lower(name)) DO UPDATE "
            "SET name = campaigns.name RETURNING id, name, xmax = 0 AS created"), {"n": name}).one()
        return Campaign(str(row.id), row.name, row.created)


def check_campaign(engine: Engine, campaign_id: str) -> None:
    """Raise CampaignNotFound unless the campaign exists."""
    with engine.connect() as conn:
        if conn.execute(sa.text("SELECT 1 FROM campaigns WHERE id = :id"),
                        {"id": campaign_uuid(campaign_id)}).first() is None:
            raise CampaignNotFound(campaign_id)


def attach_to_campaign(engine: Engine, import_id: str, campaign_id: str, actor: Actor) -> None:
    """Step 4 of the seed's flow; idempotent. Records campaign_imports and imports.campaign_id."""
    attach_imports(engine, campaign_id, [import_id], actor)


def attach_imports(engine: Engine, campaign_id: str, import_ids: list[str], actor: Actor) -> None:
    """Attach every one of these imports to the campaign, or none of them (an unknown campaign or
    import raises, and nothing is attached); idempotent. actor needs the importer role; each
    import newly attached gets its row in the audit trail."""
    ids = list(dict.fromkeys(import_uuid(i) for i in import_ids))
    campaign = campaign_uuid(campaign_id)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock, hashtext(id::text)) "
                             "FROM unnest(CAST(:ids AS uuid[])) AS locked(id) ORDER BY id"),
                     {"ids": ids, "lock": IMPORT_LOCK})  # as lock_import does, in one order
        found = set(conn.execute(sa.text("SELECT id FROM imports WHERE id = ANY(:ids)"), {"ids": ids}).scalars())
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise ImportNotFound(missing[0])
        name = conn.execute(sa.text("SELECT name FROM campaigns WHERE id = :id"), {"id": campaign}).scalar()
        if name is None:
            raise CampaignNotFound(campaign_id)
        attached = conn.execute(sa.text(
            "INSERT INTO campaign_imports (campaign_id, import_id) SELECT :c, unnest(CAST(:ids AS uuid[])) "
            "ON CONFLICT DO NOTHING RETURNING import_id"), {"c": campaign, "ids": ids}).scalars().all()
        for import_id in attached:
            audit_log.record(conn, actor, "attached", import_id=import_id, campaign=name)
        conn.execute(sa.text("UPDATE imports SET campaign_id = :c WHERE id = ANY(:ids)"), {"c": campaign, "ids": ids})


def list_campaigns(engine: Engine) -> pd.DataFrame:
    """Campaigns with how many imports and distinct contacts they hold."""
    query = """
        SELECT c.id::text AS id, c.name, c.created_at,
               count(DISTINCT ci.import_id) AS imports, count(DISTINCT ic.contact_id) AS contacts
        FROM campaigns c
        LEFT JOIN campaign_imports ci ON ci.campaign_id = c.id
        LEFT JOIN import_contacts ic ON ic.import_id = ci.import_id
        GROUP BY c.id ORDER BY c.created_at DESC, c.name"""
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.text(query)).mappings().all(),
                            columns=["id", "name", "created_at", "imports", "contacts"])
