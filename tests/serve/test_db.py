"""Schema migrations from an empty database, and the service's pure helpers."""

import pytest
from sqlalchemy import inspect

from facehealth.serve.db import make_engine, upgrade
from facehealth.serve.orm import Base
from facehealth.serve.security import WeakPasswordError, check_password_strength, hash_password, verify_password
from facehealth.serve.settings import load_settings
from facehealth.serve.throttle import RateLimiter
from facehealth.serve.uploads import sniff_image_type


def _upgrade_matches_the_models(url):
    engine = make_engine(url)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) | {"alembic_version"} == tables
    for name, table in Base.metadata.tables.items():
        assert {c["name"] for c in inspect(engine).get_columns(name)} == set(table.columns.keys())
    upgrade(engine)  # a second upgrade is a no-op
    _audit_log_is_append_only(engine)
    engine.dispose()


def _audit_log_is_append_only(engine):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    with engine.begin() as c:
        c.execute(text("INSERT INTO audit_log (time, action, target) VALUES (CURRENT_TIMESTAMP, 'x', '')"))
    for statement in ("UPDATE audit_log SET action = 'y'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(text(statement))


def test_upgrade_from_empty_sqlite(tmp_path):
    _upgrade_matches_the_models(f"sqlite:///{tmp_path / 'x.db'}")


def test_upgrade_from_empty_postgresql(postgres_url):
    from sqlalchemy import create_engine, text

    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")  # CREATE DATABASE refuses a transaction
    with admin.connect() as c:
        c.execute(text("CREATE DATABASE migrations_test"))
    admin.dispose()
    _upgrade_matches_the_models(postgres_url.rsplit("/", 1)[0] + "/migrations_test")


def test_secret_key_is_generated_once_owner_only(tmp_path, monkeypatch):
    monkeypatch.delenv("FACEHEALTH_SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    first = load_settings(tmp_path)
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_settings(tmp_path).secret_key == first.secret_key and first.is_sqlite


def test_passwords():
    with pytest.raises(WeakPasswordError, match="at least 12"):
        check_password_strength("short")
    with pytest.raises(WeakPasswordError, match="at least 12"):  # ASVS V2.1.1: 11 is one short
        check_password_strength("eleven-char")
    check_password_strength("twelve-chars")
    with pytest.raises(WeakPasswordError, match="different"):
        check_password_strength("aaaaaaaaaaaa")
    h = hash_password("a-long-password-9")
    assert h.startswith("$argon2id$") and verify_password(h, "a-long-password-9") and not verify_password(h, "x")


def test_rate_limiter_window():
    limiter = RateLimiter(2, 10.0)
    assert limiter.hit("k", 0) == 0 and limiter.hit("k", 1) == 0
    assert limiter.hit("k", 2) == pytest.approx(8.0)
    assert limiter.hit("k", 10.5) == 0  # the first attempt left the window


def test_sniffing_reads_content_not_names():
    assert sniff_image_type(b"\xff\xd8\xff\xe0rest") == "jpeg"
    assert sniff_image_type(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
    with pytest.raises(Exception, match="not a JPEG"):
        sniff_image_type(b"GIF89a")
