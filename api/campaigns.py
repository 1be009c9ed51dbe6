"""Campaigns, and attaching imports to one (the seed's step 4)."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from api.deps import caller, engine
from core.access import Actor
from core.campaigns import attach_imports, create_campaign, list_campaigns

router = APIRouter(dependencies=[Depends(caller)], tags=["campaigns"])


class CampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=255, examples=["Q4 Outreach"])


class Campaign(BaseModel):
    id: str
    name: str


class AttachIn(BaseModel):
    import_ids: list[str] = Field(min_length=1)


@router.post("/campaigns", status_code=201, response_model=Campaign)
def create(body: CampaignIn, db: Engine = Depends(engine)) -> Campaign:
    """The campaign of this name, created if new (the same name, in any case, is the same campaign)."""
    campaign_id = create_campaign(db, body.name)
    row = list_campaigns(db).set_index("id").loc[campaign_id]
    return Campaign(id=campaign_id, name=row["name"])


@router.get("/campaigns")
def campaigns(db: Engine = Depends(engine)) -> list[dict]:
    return list_campaigns(db).to_dict("records")


@router.post("/campaign-imports/{campaign_id}/imports")
def attach(campaign_id: str, body: AttachIn, who: Actor = Depends(caller), db: Engine = Depends(engine)) -> dict:
    """Attach every import listed, or none: an unknown campaign or import is a 404. Idempotent."""
    attach_imports(db, campaign_id, body.import_ids, who)
    return {"campaign_id": campaign_id, "import_ids": list(dict.fromkeys(body.import_ids))}
