"""Contacts: the seed's bulk upload (step 2 of its flow) and "List contacts"."""
from __future__ import annotations

import codecs
import json
import os
import shutil
from contextlib import asynccontextmanager
from enum import Enum
from functools import partial
from pathlib import Path
from uuid import UUID

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.deps import caller, service
from api.idempotency import KEY_HEADER, check_key, file_digest, fingerprint, replayed
from api.errors import answer_to
from api.limits import too_large
from api.imports import MODE_HELP, Mode
from api.paging import check_paging, decode_cursor, page
from core.access import Actor
from core.errors import ImportClosed, ImportConsoleError, RowsInvalid, UnreadableFile
from core.importing import MAX_FILE_BYTES, Replay, Service, guard_for, parse_confirmation, spool_file, spool_folder

router = APIRouter(tags=["contacts"])


class OnInvalid(str, Enum):
    reject = "reject"   # any invalid row refuses the whole request (422), nothing written
    skip = "skip"       # the valid rows are written; the invalid ones are kept with the import


def _metadata(text: str | None):
    """The stored object, or its text when Python cannot read it back (a 9,000-digit number)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


@router.get("/contacts", dependencies=[Depends(caller)])
def contacts(request: Request, import_id: str | None = None, email: str | None = None,
             limit: int = Query(default=100, ge=1, le=1000), offset: int = Query(default=0, ge=0),
             cursor: str | None = Query(default=None, description="the `next_cursor` of the page before"),
             svc: Service = Depends(service)) -> dict:
    """Stored contacts: those an import linked (import_id; by email), the one with an email, or
    all (newest first); paged by cursor (each page's `next`), or by offset up to 10,000."""
    check_paging(offset, cursor)
    kind = "contacts" if import_id is None else "import contacts"
    after = decode_cursor(cursor, kind)
    found = svc.list_contacts(import_id=import_id, email=email, limit=limit + 1, offset=offset,
                              after=None if after is None else str(after[0]))
    items = [{**row, "metadata": _metadata(row["metadata"])} for row in found.to_dict("records")]
    return page(request, items, limit, offset, kind,
                lambda last: (last["id"],) if import_id is None else (last["email"],))


APPLY_FIXES_HELP = ("make the safe one-click fixes the rows can take (an email written as mailto: or in quotes or "
                    "angle brackets, a LinkedIn URL without https:// or with a query string, full-width letters); "
                    "the answer's `fixes` lists each kind (kind, label, rows, example, applied), made or not")
DETAILS_SHOWN = 10_000  # the seed's per-contact details, for at most this many contacts


_CONTACT = {"type": "object", "required": ["full_name", "email", "linkedin_profile"], "properties": {
    "full_name": {"type": "string"}, "email": {"type": "string", "format": "email"},
    "linkedin_profile": {"type": "string"}, "company": {"type": "string"}, "locale": {"type": "string"},
    "timezone": {"type": "string"}, "metadata": {"type": "object"}}}
_BULK_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "items": _CONTACT}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


@router.post("/contacts/bulk", status_code=201, openapi_extra=_BULK_BODY)
async def bulk(request: Request, import_id: str | None = Header(default=None, alias="X-Import-ID"),
               on_invalid: OnInvalid = OnInvalid.reject, idempotency_key: str | None = KEY_HEADER,
               confirm_changes: str | None = Query(
                   default=None, description="when the server guards against large changes (CONTACT_IMPORT_GUARD_API): "
                   "the number of stored contacts the import changes, as a 409 named it (`changed`), or `any`"),
               mode: Mode | None = Query(default=None, description=MODE_HELP + " Without X-Import-ID: the "
                                         "mode of the import made for the call (default upsert); with it: "
                                         "the import's own, or the call is refused (400)."),
               apply_fixes: bool = Query(default=False, description=APPLY_FIXES_HELP),
               who: Actor = Depends(caller), svc: Service = Depends(service)) -> dict:
    """The seed's step 2: contacts as a JSON array, or a CSV/XLSX/JSON file in multipart field
    `file`; one request is one transaction, and several may fill one import before it is completed.
    Without X-Import-ID an import is made for the call and completed at once (the answer carries a
    warning). Stricter than the seed: an unknown X-Import-ID is a 404 and nothing is written (the
    seed answered 207 and left the contacts untracked); an import no longer in processing is 409.
    Invalid rows refuse the call (422, every error listed) unless on_invalid=skip. With an
    Idempotency-Key, the same request sent again gets the first answer and writes nothing."""
    check_key(idempotency_key)
    guard = guard_for("api", parse_confirmation(confirm_changes),
                      "Send the batch again with confirm_changes=N, N the number `changed`, or confirm_changes=any.")
    if import_id is not None:
        _check_open(svc, import_id, mode)  # before the body is read: a wrong id costs nothing
    later = _prefers_async(request)
    fixes = {"fixes": ["all"]} if apply_fixes else {}
    async with _upload(request) as (path, file_name):
        held = None
        if idempotency_key is not None:
            same = fingerprint("bulk", _canonical(import_id), on_invalid.value, file_name, str(later),
                               *([mode.value] if mode else []), *(["fixes"] if apply_fixes else []),
                               await run_in_threadpool(file_digest, path))
            held = await run_in_threadpool(svc.claim_key, who.caller, idempotency_key, same)
            if isinstance(held, Replay):
                return replayed(held)
        if later:
            return await run_in_threadpool(_start_job, request, svc, who, held, import_id, path, file_name,
                                           on_invalid is OnInvalid.skip, mode, guard, fixes)
        answered = {}

        def answer_of(result, report, read_contacts) -> dict:
            answered["answer"] = _batch_answer(read_contacts, result, report, import_id)
            return answered["answer"]
        try:
            result, report = await run_in_threadpool(partial(svc.add_contacts, import_id, path, file_name,
                                                             on_invalid is OnInvalid.skip, actor=who, claim=held,
                                                             answer_of=answer_of, mode=mode and mode.value,
                                                             guard=guard, **fixes))
        except BaseException as error:
            if held is not None:  # unless its answer was recorded, nothing was written
                await run_in_threadpool(svc.release_key, held)
            refusal = _refusal(error)
            if refusal is not error:
                raise refusal from None
            raise
    return answered.get("answer") or _batch_answer(svc.contacts_by_email, result, report, import_id)


def _prefers_async(request: Request) -> bool:
    """`Prefer: respond-async` (RFC 7240), among the request's preferences."""
    preferences = ",".join(request.headers.getlist("prefer"))
    return any(p.split(";")[0].strip().lower() == "respond-async" for p in preferences.split(","))


def _start_job(request: Request, svc: Service, who: Actor, held, import_id: str | None, path: Path,
               file_name: str, skip_invalid: bool, mode: "Mode | None", guard, fixes: dict) -> JSONResponse:
    """202 at once; the batch runs as a job of this server (its file moved out of the request's
    folder, which goes when the request ends), polled at GET /jobs/{id}, its final answer the one
    the call would have had."""
    kept = spool_file(Path(file_name).suffix)
    os.replace(path, kept.name)

    def run(on_progress) -> tuple[int, dict]:
        try:
            result, report = svc.add_contacts(import_id, Path(kept.name), file_name, skip_invalid, actor=who,
                                              on_progress=on_progress, mode=mode and mode.value, guard=guard,
                                              **fixes)
            return 201, _batch_answer(svc.contacts_by_email, result, report, import_id)
        except (ImportConsoleError, HTTPException) as error:
            status, body, _ = answer_to(_refusal(error))
            return status, body
        finally:
            kept.close()

    def accepted(job_id: str) -> dict:
        location = str(request.url_for("job", job_id=job_id))
        return {"job_id": job_id, "status": "running", "location": location}
    try:
        job_id = svc.start_api_job(who.caller, run, claim=held, accepted=accepted)
    except BaseException:
        kept.close()
        if held is not None:
            svc.release_key(held)
        raise
    answer = accepted(job_id)
    return JSONResponse(answer, status_code=202,
                        headers={"Location": answer["location"], "Preference-Applied": "respond-async"})


def _refusal(error: Exception) -> Exception:
    """A batch's refusal as the synchronous call answers it."""
    if isinstance(error, UnreadableFile):
        return HTTPException(400, f"Failed to parse CSV file: {error}")
    if isinstance(error, RowsInvalid):
        return HTTPException(422, {"message": str(error), "errors": _records(error.errors),
                                    "fixes": [fix.as_dict() for fix in error.fixes]})
    return error


@router.get("/jobs/{job_id}", name="job", tags=["contacts"])
def job(job_id: str, who: Actor = Depends(caller), svc: Service = Depends(service)) -> dict:
    """A bulk call sent with `Prefer: respond-async`: status (running, done, failed), stage, done and
    total while it runs, then status_code and answer, the call's own (201 and its counts, or the
    refusal). Only its caller, or an admin, may read it."""
    return jsonable_encoder(svc.read_api_job(job_id, who))


def _canonical(import_id: str | None) -> str | None:
    try:
        return None if import_id is None else str(UUID(import_id))
    except ValueError:
        return import_id


def _check_open(svc: Service, import_id: str, mode: Mode | None) -> None:
    record = svc.get_import(import_id)  # ImportNotFound: 404
    if record["status"] != "processing":
        raise ImportClosed(import_id, record["status"])
    if mode is not None and mode.value != record["mode"]:
        raise HTTPException(400, f"Import {import_id} was made with mode {record['mode']}: a batch cannot "
                                 f"change it to {mode.value}. Leave mode out, or make another import.")


@asynccontextmanager
async def _upload(request: Request):
    """The request's contacts in a temporary file (a 1M-row CSV is not held in memory twice),
    with the file's name; 413 past the size limit, 415 for another content type."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    with spool_folder() as folder:
        if kind == "application/json":
            path, name = Path(folder) / "request.json", "request.json"
            await _save_stream(request, path)
        elif kind == "multipart/form-data":
            form = await request.form()
            uploads = form.getlist("file")
            if len(uploads) > 1:  # taking one of them would drop the others' contacts unseen
                raise HTTPException(400, f"Failed to parse CSV file: the form holds {len(uploads)} fields named "
                                         "'file'; send one file per call.")
            upload = uploads[0] if uploads else None
            if upload is None or isinstance(upload, str):
                raise HTTPException(400, "Failed to parse CSV file: send the contacts in the form field 'file'.")
            name = Path(upload.filename or "upload.csv").name
            path = Path(folder) / "upload"
            with path.open("wb") as target:
                shutil.copyfileobj(upload.file, target, length=1 << 20)
            await upload.close()
            _check_size(path.stat().st_size)
        else:
            raise HTTPException(415, "Send the contacts as application/json (an array of contact objects) "
                                     "or as multipart/form-data with the file in the field 'file'.")
        yield path, name


async def _save_stream(request: Request, path: Path) -> None:
    """The JSON body into path, refused at its first byte that is not UTF-8: JSON over HTTP is
    UTF-8 (RFC 8259), and a body read as another encoding would store every accented name in it
    garbled (issue 21, point 2)."""
    size, decoder = 0, codecs.getincrementaldecoder("utf-8")()
    with path.open("wb") as target:
        async for chunk in request.stream():
            _check_utf8(decoder, chunk, size)
            size += len(chunk)
            _check_size(size)
            target.write(chunk)
    _check_utf8(decoder, b"", size, final=True)


def _check_utf8(decoder, chunk: bytes, offset: int, final: bool = False) -> None:
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError as error:
        where = offset + error.start
        raise HTTPException(400, f"Failed to parse CSV file: the JSON body is not UTF-8: byte {where + 1:,} "
                                 f"(0x{error.object[error.start]:02x}) is not part of a UTF-8 character. "
                                 "JSON is sent as UTF-8 (RFC 8259); send the body encoded so.") from None


def _check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise too_large()


def _batch_answer(read_contacts, result, report, import_id: str | None) -> dict:
    """The call's answer; read_contacts(emails): the stored contacts' id, email and name."""
    answer = {"import_id": result.import_id, "status": result.status,
              # the seed's `inserted`: every contact the call upserted (linked), new or not
              "inserted": result.total_rows, "created": result.inserted,
              "updated": result.updated, "unchanged": result.unchanged, "already_there": result.already_there,
              "not_found": result.not_found, "suppressed": result.suppressed, "invalid": result.invalid,
              "duplicates": result.duplicates, "errors": _records(report.errors),
              "fixes": [fix.as_dict() for fix in report.fixes],
              "details": read_contacts(report.kept_emails(DETAILS_SHOWN)),
              "details_truncated": report.valid_count > DETAILS_SHOWN}
    if import_id is None:
        answer["warning"] = (f"No X-Import-ID was sent: import {result.import_id} was created for these "
                             "contacts and completed. Create the import first (POST /imports/) to add "
                             "several batches to it.")
    return answer


def _records(errors) -> list[dict]:
    return [{"row": int(e.row), "column": e.column, "reason": e.reason, "value": e.value}
            for e in errors.itertuples(index=False)]
