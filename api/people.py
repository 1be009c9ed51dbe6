"""People's data (issue 24), for admins: erase a person, export what is held about them, and add
emails to the suppression list, which no import writes."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import caller, service
from core.access import Actor
from core.importing import Service

router = APIRouter(tags=["people"])


@router.delete("/contacts/{email}")
def erase(email: str, who: Actor = Depends(caller), svc: Service = Depends(service)) -> dict:
    """Erase everything held about this email (the contact, its imports' links and previous values,
    rejected rows, drafts, recorded answers), in one transaction, and suppress it: no later import
    writes it. Admins only. Answers what was erased, and the email's keyed hash (what the audit
    trail keeps)."""
    return svc.erase_person(email, who).as_dict()


@router.get("/contacts/{email}/export")
def export(email: str, who: Actor = Depends(caller), svc: Service = Depends(service)) -> dict:
    """Everything held about this email, as JSON: the contact, each import that linked it (with the
    values it replaced), the rows imports rejected, unfinished imports whose file holds it, and
    whether it is suppressed. Admins only."""
    return svc.export_person(email, who)


class SuppressionsIn(BaseModel):
    emails: list[str] = Field(min_length=1, max_length=100_000, examples=[["opted.out@example.com"]])
    source: str = Field(default="api", max_length=255, description="where the list comes from, kept with it")


@router.post("/suppressions", status_code=201)
def suppress(body: SuppressionsIn, who: Actor = Depends(caller), svc: Service = Depends(service)) -> dict:
    """Put emails on the suppression list (kept as keyed hashes, never in clear): every import
    skips them, counted as `suppressed`. Admins only. Answers how many were new and the entries
    that are not email addresses (left out)."""
    added, refused = svc.suppress_emails(body.emails, who, body.source)
    return {"added": added, "not_emails": refused}
