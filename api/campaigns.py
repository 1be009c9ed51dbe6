"""Campaigns, and attaching imports to one (the seed's step 4)."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import caller, service
from core.access import Actor
from core.importing import Service

router = APIRouter(dependencies=[Depends(caller)], tags=["campaigns"])


class CampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=255, examples=["Q4 Outreach"])


class Campaign(BaseModel):
    id: str
    name: str


class AttachIn(BaseModel):
    import_ids: list[str] = Field(min_length=1)


@router.post("/campaigns", status_code=201, response_model=Campaign)
def create(body: CampaignIn, svc: Service = Depends(service)) -> Campaign:
    """The campaign of this name, created if new (the same name, in any case, is the same campaign)."""
    campaign_id = svc.create_campaign(body.name)
    row = svc.list_campaigns().set_index("id").loc[campaign_id]
    return Campaign(id=campaign_id, name=row["name"])


@router.get("/campaigns")
def campaigns(svc: Service = Depends(service)) -> list[dict]:
    return svc.list_campaigns().to_dict("records")


@router.post("/campaign-imports/{campaign_id}/imports")
def attach(campaign_id: str, body: AttachIn, who: Actor = Depends(caller), svc: Service = Depends(service)) -> dict:
    """Attach every import listed, or none: an unknown campaign or import is a 404. Idempotent."""
    svc.attach_imports(campaign_id, body.import_ids, who)
    return {"campaign_id": campaign_id, "import_ids": list(dict.fromkeys(body.import_ids))}
