"""The FastAPI application: routes, and errors as the seed's `{"detail": ...}` bodies."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import campaigns, contacts, imports, people
from api.errors import answer_to
from api.limits import BodyLimit
from core.errors import ImportConsoleError

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
api.include_router(people.router)


@api.exception_handler(ImportConsoleError)
async def _refused(request: Request, error: ImportConsoleError) -> JSONResponse:
    status, body, headers = answer_to(error)
    return JSONResponse(body, status_code=status, headers=headers)


@api.exception_handler(Exception)
async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return JSONResponse({"detail": f"Internal error ({type(error).__name__}); nothing was half-written."},
                        status_code=500)
