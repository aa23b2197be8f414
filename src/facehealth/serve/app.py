"""The FastAPI application: lifespan (database, migrations, model), middleware, routers, web page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from facehealth.serve.admission import THREAD_HEADROOM, AdmissionGate
from facehealth.serve.analyses import load_model, record_analysis
from facehealth.serve.apidocs import render_openapi
from facehealth.serve.db import make_engine, make_sessionmaker, upgrade
from facehealth.serve.errors import install_error_handlers
from facehealth.serve.jobs import JobRunner, recover_interrupted
from facehealth.serve.live import LiveSlots
from facehealth.serve.routes import auth, jobs, live, people, system, users
from facehealth.serve.settings import Settings, load_settings
from facehealth.serve.throttle import Limiter, RateLimiter, RedisRateLimiter, connect_redis

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"
# Same-origin scripts and styles only: the page ships its own files, nothing from a CDN.
_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
_FORM_OVERHEAD = 64_000  # multipart boundaries and form fields around the photo
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), geolocation=(), microphone=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _job_runner(settings: Settings, sessions: Any) -> JobRunner | None:
    """The video worker, after failing the jobs a stopped server left behind (None without a model)."""
    tmp = settings.data_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
    recover_interrupted(sessions, tmp)
    if settings.model_path is None:
        return None
    path = settings.model_path

    def record(session: Any, person: Any, handle: Any, prediction: Any) -> Any:
        return record_analysis(session, person, handle, prediction, dict(prediction.intervals) or None, None)

    return JobRunner(sessions, lambda: load_model(path), record, tmp)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; with no settings they come from the environment (see :mod:`facehealth.serve.settings`)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Enough threads that every admitted request finds one while the live sessions have theirs.
        threads = settings.max_active_requests + settings.live_sessions + THREAD_HEADROOM
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        engine = make_engine(settings.database_url)
        upgrade(engine)
        app.state.settings = settings
        app.state.sessions = make_sessionmaker(engine)
        app.state.redis = connect_redis(settings.redis_url) if settings.redis_url else None

        def limiter(name: str, attempts: int, window_s: float) -> Limiter:
            if app.state.redis is None:
                return RateLimiter(attempts, window_s)
            return RedisRateLimiter(app.state.redis, name, attempts, window_s)

        app.state.login_limiter = limiter("login", settings.login_attempts, settings.login_window_s)
        app.state.upload_limiter = limiter("uploads", settings.uploads_per_minute, 60.0)
        # Loaded once here, shared by every request (never per request, never at import time).
        app.state.model = load_model(settings.model_path) if settings.model_path else None
        app.state.live_slots = LiveSlots(settings.live_sessions)
        app.state.jobs = _job_runner(settings, app.state.sessions)
        yield
        if app.state.jobs is not None:
            app.state.jobs.shutdown()
        if app.state.redis is not None:
            app.state.redis.close()
        engine.dispose()

    # docs_url/redoc_url off: their pages load scripts from a CDN; /docs below renders the spec here.
    app = FastAPI(
        title="facehealth", summary="Private face-health service.", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # Refuse an announced oversized body before the multipart parser spools it to disk; the
        # upload route checks the bytes it reads again (a chunked body announces no length).
        length = request.headers.get("content-length", "")
        limit = settings.max_video_bytes if request.url.path.endswith("/videos") else settings.max_upload_bytes
        if length.isdigit() and int(length) > limit + _FORM_OVERHEAD:
            message = f"the request body exceeds the limit of {limit:,} bytes"
            return JSONResponse({"error": {"code": "too_large", "message": message}}, 413)
        return await call_next(request)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(_HEADERS)
        response.headers["Content-Security-Policy"] = _CSP
        if request.url.path.startswith("/api"):
            response.headers["Cache-Control"] = "no-store"  # health data stays out of caches
        return response

    # Added last, so it runs first: a request waits for its turn before any other work is done.
    app.add_middleware(AdmissionGate, active=settings.max_active_requests, waiting=settings.max_waiting_requests)

    for module in (system, auth, users, people, jobs, live):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(render_openapi(app.openapi()))

    @app.get("/live", include_in_schema=False)
    def live_page() -> FileResponse:
        return FileResponse(STATIC / "live.html")

    return app
