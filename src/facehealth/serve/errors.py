"""Every HTTP error the service returns, mapped in this one place, as ``{"error": {code, message}}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from facehealth.errors import (
    CorruptImageError,
    FaceHealthError,
    InputError,
    InputTooLargeError,
    NoFaceError,
    QualityError,
    UnsupportedInputError,
    VideoError,
)

__all__ = ["ServiceError", "install_error_handlers"]


class ServiceError(Exception):
    """Raised by routes and services; the handler turns it into a JSON response."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


# Library errors -> (status, code); the first matching class wins, so subclasses come first.
_LIBRARY = (
    (InputTooLargeError, 413, "too_large"),
    (UnsupportedInputError, 415, "unsupported_media"),
    (CorruptImageError, 422, "corrupt_media"),
    (VideoError, 422, "corrupt_media"),
    (NoFaceError, 422, "no_face"),
    (QualityError, 422, "quality"),
    (InputError, 400, "bad_input"),
)


def _body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(_r: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(_body(exc.code, exc.message), exc.status, headers=exc.headers)

    @app.exception_handler(FaceHealthError)
    async def _library(_r: Request, exc: FaceHealthError) -> JSONResponse:
        for cls, status, code in _LIBRARY:
            if isinstance(exc, cls):
                return JSONResponse(_body(code, str(exc)), status)
        return JSONResponse(_body("analysis_failed", str(exc)), 500)

    @app.exception_handler(SQLAlchemyTimeout)
    async def _busy(_r: Request, _exc: SQLAlchemyTimeout) -> JSONResponse:
        # Every database connection stayed busy for the pool timeout: an overload, not a bug; say when to retry.
        body = _body("busy", "the server is busy; try again in a few seconds")
        return JSONResponse(body, 503, headers={"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def _validation(_r: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(_body("invalid_request", "; ".join(parts)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(_body(f"http_{exc.status_code}", str(exc.detail)), exc.status_code)
