"""Imports: create one (the seed's step 1), list them, read one."""
from __future__ import annotations

from enum import Enum
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field

from api.deps import caller, service
from api.idempotency import KEY_HEADER, check_key, fingerprint, replayed
from api.paging import check_paging, decode_cursor, page
from core.access import Actor
from core.importing import MODES, RULED_FIELDS, RULES, STATUSES, Replay, Service

router = APIRouter(tags=["imports"])
Status = Enum("Status", {name: name for name in STATUSES}, type=str)
Mode = Enum("Mode", {name: name for name in MODES}, type=str)
RuledField = Enum("RuledField", {name: name for name in RULED_FIELDS}, type=str)
Rule = Enum("Rule", {name: name for name in RULES}, type=str)
RULES_HELP = ("what the import may do to each field of a stored contact, for every batch: "
              + "; ".join(f"{name}: {what}" for name, what in RULES.items())
              + ". A field left out is overwritten; metadata takes its rule as a whole.")
MODE_HELP = ("what the import may do to contacts, for every batch: "
             + "; ".join(f"{name}: {what}" for name, what in MODES.items())
             + ". Rows left out count as already_there (create) or not_found (update).")


class ImportIn(BaseModel):
    source: str = Field(min_length=1, examples=["HubSpot"])
    file_name: str | None = Field(default=None, examples=["contacts.csv"])
    mode: Mode = Field(default=Mode.upsert, description=MODE_HELP)
    rules: dict[RuledField, Rule] = Field(default_factory=dict, description=RULES_HELP,
                                          examples=[{"company": "fill", "locale": "keep"}])


def _public(record: dict) -> dict:
    return {**record, "importId": record["id"]}  # the seed's flow calls it importId


@router.post("/imports/", status_code=201)
def create(body: ImportIn, idempotency_key: str | None = KEY_HEADER, who: Actor = Depends(caller),
           svc: Service = Depends(service)) -> dict:
    """Step 1 of the seed's flow: an import in `processing`, waiting for its contacts. With an
    Idempotency-Key, the same request sent again gets the first answer and makes no other import."""
    check_key(idempotency_key)
    held = None
    if idempotency_key is not None:
        held = svc.claim_key(who.caller, idempotency_key, fingerprint("create", body.source, body.file_name, body.mode.value,
                                                           *sorted(f"{f.value}={r.value}" for f, r in body.rules.items())))
        if isinstance(held, Replay):
            return replayed(held)
    try:
        import_id = svc.create_api_import(body.source, body.file_name, who, claim=held, mode=body.mode.value,
                                          rules={f.value: r.value for f, r in body.rules.items()})
        record = svc.get_import(import_id)
        answer = jsonable_encoder(_public({k: record[k] for k in ("id", "status", "source", "file_name", "mode",
                                                                  "rules", "created_at")}))
        if held is not None:
            svc.record_answer(held, 201, answer)
    except BaseException:
        if held is not None:
            svc.release_key(held)
        raise
    return answer


@router.get("/imports", dependencies=[Depends(caller)])
def imports(request: Request, status: Status | None = None, source: str | None = None,
            campaign: str | None = None, limit: int = Query(default=100, ge=1, le=1000),
            offset: int = Query(default=0, ge=0),
            cursor: str | None = Query(default=None, description="the `next_cursor` of the page before"),
            svc: Service = Depends(service)) -> dict:
    """Imports, newest first, filtered by status, source and campaign id; paged by cursor (each
    page's `next`), or by offset up to 10,000."""
    check_paging(offset, cursor)
    found = svc.import_records(status=status.value if status else None, source=source, campaign_id=campaign,
                               limit=limit + 1, offset=offset, after=decode_cursor(cursor, "imports"))
    return page(request, [_public(record) for record in found], limit, offset, "imports",
                lambda last: (last["created_at"].isoformat(), last["id"]))


@router.get("/imports/{import_id}/errors", dependencies=[Depends(caller)], response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the import's error file"}})
def errors(import_id: str, svc: Service = Depends(service)) -> Response:
    """The import's error file, as the console downloads it: the rows left out for a problem as
    its file held them, with an `errors` column; fixed in a spreadsheet and sent again, each value
    imports as the file held it. An import that kept no such rows (made by the API) gives its list
    of errors (row, column, reason, value)."""
    name, data = svc.import_error_csv(import_id)
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{quote(name)}"'})


@router.get("/imports/{import_id}", dependencies=[Depends(caller)])
def one(import_id: str, svc: Service = Depends(service)) -> dict:
    """One import: its status, counts, campaign, who created it and why it failed."""
    return _public(svc.get_import(import_id))


class ImportUpdate(BaseModel):
    status: str | None = Field(default=None, pattern="^completed$", examples=["completed"])
    total_rows: int | None = Field(default=None, ge=0)
    campaign_id: str | None = None


@router.put("/imports/{import_id}")
def update(import_id: str, body: ImportUpdate, who: Actor = Depends(caller), svc: Service = Depends(service)) -> dict:
    """The seed's step 3 (status completed, with total_rows) and the end of its step 4
    (campaign_id). total_rows must be the number of contacts linked, or 409 names both numbers;
    an unknown campaign is a 404 and changes nothing."""
    svc.get_import(import_id)  # 404s first: nothing changes when a part of the request is wrong
    if body.campaign_id is not None:
        svc.check_campaign(body.campaign_id)
    if body.status == "completed":
        svc.complete(import_id, body.total_rows, actor=who)
    if body.campaign_id is not None:
        svc.attach_imports(body.campaign_id, [import_id], who)
    return _public(svc.get_import(import_id))


@router.post("/imports/{import_id}/undo")
def undo(import_id: str, who: Actor = Depends(caller), svc: Service = Depends(service)) -> dict:
    """Revert a completed import, atomically; what a later import changed is kept and listed.
    Needs a key with the admin role (else 403). 409 when the import is not completed (processing,
    failed, or reverted already)."""
    result = svc.undo(import_id, who)
    return {"import_id": result.import_id, "deleted": result.deleted, "restored": result.restored,
            "conflicts": result.conflicts.to_dict("records")}
