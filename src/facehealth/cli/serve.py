"""``facehealth serve``: the private web service; ``facehealth serve create-admin``: its first account."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from facehealth.cli.common import app, fail, out
from facehealth.errors import ConfigError, FaceHealthError

serve_app = typer.Typer(help="The private web service (API + web page).", invoke_without_command=True)
app.add_typer(serve_app, name="serve")

DataDir = Annotated[Path | None, typer.Option(help="Where the database and secret key live (default ~/.facehealth).")]


@serve_app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on; loopback by default (private).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    model: Annotated[Path | None, typer.Option(help="Fine-tuned checkpoint to score photos with.")] = None,
    data_dir: DataDir = None,
    ssl_certfile: Annotated[Path | None, typer.Option(help="Serve HTTPS with this certificate (PEM).")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="The certificate's private key (PEM).")] = None,
) -> None:
    """Run the service (SQLite in the data dir by default; PostgreSQL when DATABASE_URL is set)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from facehealth.serve.app import create_app
    from facehealth.serve.settings import load_settings

    if (ssl_certfile is None) != (ssl_keyfile is None):
        fail(ConfigError("HTTPS needs both --ssl-certfile and --ssl-keyfile"))
    for given in (ssl_certfile, ssl_keyfile):
        if given is not None and not given.is_file():
            fail(ConfigError(f"{given}: no such file"))
    scheme = "https" if ssl_certfile else "http"
    settings = load_settings(data_dir, model)
    out.print(f"facehealth service on {scheme}://{host}:{port} (data: {settings.data_dir})")
    out.print(f"the live camera page: {scheme}://{host}:{port}/live")
    # The sans-I/O websockets protocol (the legacy one is deprecated); a message above the live frame
    # limit closes the socket (1009) before it is buffered.
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        ws="websockets-sansio",
        ws_max_size=settings.live_frame_bytes + 1024,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
    )


@serve_app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True, help="The admin's e-mail address.")],
    data_dir: DataDir = None,
) -> None:
    """Create an admin account (password from FACEHEALTH_ADMIN_PASSWORD, else prompted)."""
    from facehealth.serve.accounts import create_user
    from facehealth.serve.db import open_database

    password = os.environ.get("FACEHEALTH_ADMIN_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    with open_database(data_dir) as (_settings, sessions), sessions.begin() as session:
        try:
            user = create_user(session, email, password, "admin", approved=True)
        except ValueError as exc:
            fail(exc)
        out.print(f"admin {user.email} created")


@serve_app.command("invite")
def invite(
    role: Annotated[str, typer.Option(help="Role of the account it creates: admin, clinician or self.")] = "clinician",
    email: Annotated[str | None, typer.Option(help="Only this e-mail address may use it (default: anyone).")] = None,
    days: Annotated[int, typer.Option(help="Days until it expires.")] = 7,
    url: Annotated[str, typer.Option(help="The service's address, for the printed link.")] = "http://127.0.0.1:8000",
    data_dir: DataDir = None,
) -> None:
    """Print a one-time invitation link; the account registered with it is approved at once."""
    from sqlalchemy import select

    from facehealth.serve.accounts import create_invitation
    from facehealth.serve.db import open_database
    from facehealth.serve.orm import User

    with open_database(data_dir) as (_settings, sessions), sessions.begin() as session:
        admin = session.scalar(select(User).where(User.role == "admin").order_by(User.id))
        if admin is None:
            fail(ConfigError("no admin account yet: run `facehealth serve create-admin` first"))
        try:
            token, row = create_invitation(session, admin, role, email, days)
        except ValueError as exc:
            fail(exc)
        until = f"{row.expires_at:%Y-%m-%d %H:%M} UTC"
        out.print(f"invitation for {row.email or 'anyone'} as {row.role}, until {until}:")
        out.print(f"{url.rstrip('/')}/#/join/{token}", soft_wrap=True)


@serve_app.command("import-history")
def import_history(
    visit_file: Annotated[Path, typer.Argument(help="A visit file of `facehealth report person` (SQLite).")],
    owner: Annotated[str | None, typer.Option(help="The account the people go to (default: the first admin).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Copy an old visit file into the service database (visits already there are skipped)."""
    from facehealth.serve.history import import_history_file, open_history

    try:
        with open_history(data_dir, owner, f"imported from {visit_file.name}") as (history, email):
            copied = import_history_file(visit_file, history)
    except FaceHealthError as exc:
        fail(exc)
    out.print(f"{sum(copied.values())} visits of {len(copied)} people copied to {email}'s people")
