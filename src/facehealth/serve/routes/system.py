"""Liveness, readiness and what the loaded model is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from facehealth.serve.deps import CurrentUser
from facehealth.serve.errors import ServiceError

router = APIRouter(tags=["system"])


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
def ready(request: Request) -> dict[str, Any]:
    with request.app.state.sessions() as session:
        session.execute(text("SELECT 1"))
    if request.app.state.redis is not None:
        try:
            request.app.state.redis.ping()
        except Exception as exc:  # noqa: BLE001 - any Redis failure means "not ready", with the reason
            raise ServiceError(503, "no_redis", f"Redis does not answer ({type(exc).__name__})") from exc
    model = request.app.state.model
    if model is None:
        raise ServiceError(503, "no_model", "no model is loaded (start with --model CKPT)")
    return {"status": "ready", "model_id": model.model_id}


@router.get("/api/model")
def model_info(request: Request, _user: CurrentUser) -> dict[str, Any]:
    model = request.app.state.model
    if model is None:
        raise ServiceError(503, "no_model", "no model is loaded (start with --model CKPT)")
    return model.card
