"""The FastAPI application: routes, and errors as the seed's `{"detail": ...}` bodies."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import campaigns, contacts, imports
from api.limits import BodyLimit
from core.access import AccessRefused
from core.errors import (CampaignNotFound, ClaimLost, CommitFailed, KeyInProgress, KeyReused, ImportClosed, ImportConsoleError, ImportNotFound,
                         NotTheOwner, StatusChangeRefused, TotalRowsMismatch, UndoFailed)

log = logging.getLogger(__name__)

api = FastAPI(title="Contact Import Console API",
              description="The bulk contact import API: create an import, add contacts, complete it, "
                          "attach it to a campaign. Authenticate with `X-API-Key`.",
              docs_url="/docs", redoc_url=None)
api.add_middleware(BodyLimit)


@api.middleware("http")
async def _no_nul(request: Request, call_next):
    """A NUL in a path or query value can never match stored text (PostgreSQL refuses it)."""
    if "\x00" in request.url.path or any("\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()):
        return JSONResponse({"detail": "A NUL character (%00) is not allowed in a path or query."}, status_code=400)
    return await call_next(request)


api.include_router(imports.router)
api.include_router(campaigns.router)
api.include_router(contacts.router)


@api.exception_handler(ImportNotFound)
@api.exception_handler(CampaignNotFound)
async def _not_found(request: Request, error: ImportConsoleError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=404)


@api.exception_handler(StatusChangeRefused)
@api.exception_handler(ImportClosed)
@api.exception_handler(TotalRowsMismatch)
@api.exception_handler(ClaimLost)
async def _conflict(request: Request, error: ImportConsoleError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=409)


@api.exception_handler(KeyInProgress)
async def _in_progress(request: Request, error: KeyInProgress) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=409, headers={"Retry-After": "1"})


@api.exception_handler(KeyReused)
async def _key_reused(request: Request, error: KeyReused) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=422)


@api.exception_handler(AccessRefused)
@api.exception_handler(NotTheOwner)
async def _forbidden(request: Request, error: ImportConsoleError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=403)


@api.exception_handler(CommitFailed)
async def _bulk_failed(request: Request, error: CommitFailed) -> JSONResponse:
    return JSONResponse({"detail": f"Bulk operation failed: {error.reason}"}, status_code=500)


@api.exception_handler(UndoFailed)
async def _failed(request: Request, error: ImportConsoleError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=500)  # rolled back whole; the message says why


@api.exception_handler(ImportConsoleError)
async def _refused(request: Request, error: ImportConsoleError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=400)


@api.exception_handler(Exception)
async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return JSONResponse({"detail": f"Internal error ({type(error).__name__}); nothing was half-written."},
                        status_code=500)
