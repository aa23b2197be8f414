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
