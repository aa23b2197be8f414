"""``facehealth serve create-admin``: the first account, in a fresh data dir."""

from typer.testing import CliRunner

from facehealth.cli import app


def test_create_admin_in_a_fresh_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FACEHEALTH_SECRET_KEY", raising=False)
    monkeypatch.setenv("FACEHEALTH_ADMIN_PASSWORD", "admin-pass-123")
    args = ["serve", "create-admin", "--email", "Root@Example.org", "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "admin root@example.org created" in result.output
    assert (tmp_path / "facehealth.db").exists() and (tmp_path / "secret.key").exists()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "exists already" in again.output


def test_invite_prints_a_link_that_registers_an_approved_account(tmp_path, monkeypatch):
    from facehealth.serve.accounts import redeem_invitation
    from facehealth.serve.db import make_engine, make_sessionmaker

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FACEHEALTH_SECRET_KEY", raising=False)
    data = ["--data-dir", str(tmp_path)]
    early = CliRunner().invoke(app, ["serve", "invite", *data])
    assert early.exit_code == 2 and "create-admin" in early.output
    monkeypatch.setenv("FACEHEALTH_ADMIN_PASSWORD", "admin-pass-123")
    assert CliRunner().invoke(app, ["serve", "create-admin", "--email", "root@example.org", *data]).exit_code == 0
    result = CliRunner().invoke(app, ["serve", "invite", "--role", "self", "--url", "https://clinic.example", *data])
    assert result.exit_code == 0, result.output
    link = result.output.split()[-1]
    assert link.startswith("https://clinic.example/#/join/")
    engine = make_engine(f"sqlite:///{tmp_path / 'facehealth.db'}")
    with make_sessionmaker(engine).begin() as session:
        user = redeem_invitation(session, link.rsplit("/", 1)[1], "me@example.org", "my-own-pass-12")
        assert user.approved and user.role == "self"
    engine.dispose()
    bad = CliRunner().invoke(app, ["serve", "invite", "--role", "owner", *data])
    assert bad.exit_code == 2 and "unknown role" in bad.output
