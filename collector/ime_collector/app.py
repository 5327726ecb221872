"""The collector's ASGI application (Starlette): routes, body limits, problem documents.

Handlers read the body (refusing more than :data:`settings.MAX_BODY_BYTES`) and
hand the work to :class:`~ime_collector.service.Collector` on a worker thread.
Nothing here logs a request: no access log, no address, no user agent, no body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ime_collector.errors import StorageError
from ime_collector.service import Collector, Problem
from ime_collector.settings import MAX_BODY_BYTES, Settings
from ime_collector.storage import Storage, open_storage
from ime_wire import API_PREFIX

log = logging.getLogger("ime_collector")
PROBLEM = "application/problem+json"
PURGE_EVERY_S = 3600


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(problem.document(), status_code=problem.status, headers=problem.headers,
                        media_type=PROBLEM)


def _target(request: Request) -> str:
    """The path and query the client signed."""
    query = request.scope.get("query_string", b"")
    return request.scope["path"] + ("?" + query.decode("latin-1") if query else "")


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        raise Problem(413, "Content Too Large", f"the body is over {MAX_BODY_BYTES // 1024} KiB; "
                      "send fewer summaries per batch") if length.isdigit() else \
            Problem(400, "Bad Request", "malformed Content-Length header")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Problem(413, "Content Too Large", f"the body is over {MAX_BODY_BYTES // 1024} KiB")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: Settings, storage: Storage | None = None) -> Starlette:
    """The app; it opens ``settings.database_url`` at startup unless given an open ``storage``."""
    state: dict[str, Collector] = {}

    def collector() -> Collector:
        return state["collector"]

    async def healthz(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(collector().health))

    async def study_manifest(request: Request) -> Response:
        data = await run_in_threadpool(collector().manifest_bytes, request.path_params["study_id"])
        return Response(data, media_type="application/json")

    async def invites(request: Request) -> Response:
        body = await _body(request)
        result = await run_in_threadpool(collector().register_invites, request.path_params["study_id"],
                                         request.headers, _target(request), body)
        return JSONResponse(result)

    async def enroll(request: Request) -> Response:
        body = await _body(request)
        status, result = await run_in_threadpool(collector().enroll, request.path_params["study_id"],
                                                 request.headers, _target(request), body)
        return JSONResponse(result, status_code=status)

    async def batches(request: Request) -> Response:
        body = await _body(request)
        status, result = await collector().upload(request.path_params["study_id"], body)
        return JSONResponse(result, status_code=status)

    async def withdraw(request: Request) -> Response:
        body = await _body(request)
        result = await run_in_threadpool(collector().withdraw, request.path_params["study_id"],
                                         request.path_params["enrollment_id"], request.headers,
                                         _target(request), body)
        return JSONResponse(result)

    async def items(request: Request) -> Response:
        params = request.query_params
        result = await run_in_threadpool(collector().items, request.path_params["study_id"], request.headers,
                                         _target(request), params.get("after"), params.get("limit"))
        return JSONResponse(result)

    async def on_problem(request: Request, exc: Problem) -> Response:
        return problem_response(exc)

    async def on_http_exception(request: Request, exc: HTTPException) -> Response:
        detail = {404: "no such endpoint; see docs/protocol.md (the API is under /v1)",
                  405: "this endpoint does not take that method"}.get(exc.status_code, str(exc.detail))
        return problem_response(Problem(exc.status_code, exc.detail if isinstance(exc.detail, str) else "Error",
                                        detail, dict(exc.headers or {})))

    async def on_storage_error(request: Request, exc: StorageError) -> Response:
        log.error("storage unavailable: %s", exc)
        return problem_response(Problem(503, "Service Unavailable", "the collector's database is not reachable; "
                                        "retry later", {"Retry-After": "30"}))

    async def on_error(request: Request, exc: Exception) -> Response:
        log.error("internal error: %s", type(exc).__name__, exc_info=exc)
        return problem_response(Problem(500, "Internal Server Error", "the collector failed; retry later"))

    async def purge_forever() -> None:
        while True:
            try:
                purged = await run_in_threadpool(collector().purge)
                if purged:
                    log.info("retention: deleted %d batches past their study's retention", purged)
            except StorageError as exc:
                log.error("retention purge failed: %s", exc)
            await asyncio.sleep(PURGE_EVERY_S)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        opened = storage or await run_in_threadpool(open_storage, settings.database_url, settings.pool_size)
        await opened.start_async()
        state["collector"] = Collector(opened, settings)
        purger = asyncio.create_task(purge_forever())
        try:
            yield
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            await opened.close_async()
            await run_in_threadpool(opened.close)

    studies = f"{API_PREFIX}/studies/{{study_id}}"
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route(f"{studies}/manifest", study_manifest, methods=["GET"]),
        Route(f"{studies}/invites", invites, methods=["PUT"]),
        Route(f"{studies}/enrollments", enroll, methods=["POST"]),
        Route(f"{studies}/enrollments/{{enrollment_id}}", withdraw, methods=["DELETE"]),
        Route(f"{studies}/batches", batches, methods=["POST"]),
        Route(f"{studies}/items", items, methods=["GET"]),
    ]
    handlers = {Problem: on_problem, HTTPException: on_http_exception, StorageError: on_storage_error,
                Exception: on_error}
    return Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)


def app_from_environment() -> Starlette:
    """The factory ``uvicorn --factory`` calls in each worker process (settings from the environment)."""
    return create_app(Settings.from_environment())
