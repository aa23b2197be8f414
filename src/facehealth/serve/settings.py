"""Service settings from environment variables, with defaults that need no configuration at all."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "load_settings"]

_SECRET_FILE = "secret.key"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str
    model_path: Path | None = None
    # Short-lived access tokens limit what a stolen token can do; refresh tokens are revocable.
    access_minutes: int = 15
    refresh_days: int = 14
    # 20 MB covers a full-resolution phone photo (typically 3-8 MB) with room to spare.
    max_upload_bytes: int = 20_000_000
    # Videos: 200 MB is about 3 minutes of 1080p phone video, more than an analysis needs.
    max_video_bytes: int = 200_000_000
    # 40 MP: above any phone camera; a decoded 40 MP RGB image is 120 MB, the memory we accept per request.
    max_pixels: int = 40_000_000
    # Login throttling: attempts per window per (client address, user name).
    login_attempts: int = 5
    login_window_s: float = 60.0
    cors_origins: tuple[str, ...] = ()  # empty = same origin only
    # Analyses (photos and videos) per user per minute: far above a person's use, well below a script's.
    uploads_per_minute: int = 60
    # Redis for rate-limit counters shared by several service processes; None = count in-process.
    redis_url: str | None = None
    # Live camera: a 1080p JPEG frame is ~0.3-0.6 MB; 4K UHD (8.3 MP) is the largest camera frame we take.
    live_frame_bytes: int = 4_000_000
    live_pixels: int = 8_300_000
    # Each live session keeps about one CPU core busy; more than this and every session slows down.
    live_sessions: int = 4
    # HTTP requests inside the app at once (serve/admission.py); on 2 cores more only share the CPU
    # thinner. Beyond it requests queue in order; beyond max_waiting_requests they get a 503.
    max_active_requests: int = 24
    max_waiting_requests: int = 1000

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _database_url(data_dir: Path) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return f"sqlite:///{data_dir / 'facehealth.db'}"
    # Hosting platforms hand out postgres:// or postgresql:// URLs; SQLAlchemy needs the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(data_dir: Path) -> str:
    """FACEHEALTH_SECRET_KEY, else a key generated once and kept in the data dir (owner-only)."""
    given = os.environ.get("FACEHEALTH_SECRET_KEY")
    if given:
        return given
    path = data_dir / _SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    # O_EXCL + 0600 at creation: the key is never readable by others, not even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def load_settings(
    data_dir: str | Path | None = None,
    model_path: str | Path | None = None,
) -> Settings:
    """Settings from arguments, then FACEHEALTH_* environment variables, then defaults."""
    folder = Path(data_dir or os.environ.get("FACEHEALTH_DATA_DIR") or Path.home() / ".facehealth").expanduser()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # owner-only: it holds health data and the key
    model = model_path or os.environ.get("FACEHEALTH_MODEL")
    origins = tuple(o for o in os.environ.get("FACEHEALTH_CORS_ORIGINS", "").split(",") if o)
    return Settings(
        data_dir=folder,
        database_url=_database_url(folder),
        secret_key=_secret_key(folder),
        model_path=Path(model) if model else None,
        access_minutes=int(os.environ.get("FACEHEALTH_ACCESS_MINUTES", 15)),
        cors_origins=origins,
        live_sessions=int(os.environ.get("FACEHEALTH_LIVE_SESSIONS", 4)),
        max_active_requests=int(os.environ.get("FACEHEALTH_MAX_ACTIVE_REQUESTS", 24)),
        max_waiting_requests=int(os.environ.get("FACEHEALTH_MAX_WAITING_REQUESTS", 1000)),
        uploads_per_minute=int(os.environ.get("FACEHEALTH_UPLOADS_PER_MINUTE", 60)),
        redis_url=os.environ.get("REDIS_URL") or None,
    )
