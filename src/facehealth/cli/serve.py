"""``facehealth serve``: the private web service; ``facehealth serve create-admin``: its first account."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from facehealth.cli.common import app, fail, out

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
) -> None:
    """Run the service (SQLite in the data dir by default; PostgreSQL when DATABASE_URL is set)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from facehealth.serve.app import create_app
    from facehealth.serve.settings import load_settings

    settings = load_settings(data_dir, model)
    out.print(f"facehealth service on http://{host}:{port} (data: {settings.data_dir})")
    out.print(f"the live camera page: http://{host}:{port}/live")
    # The sans-I/O websockets protocol (the legacy one is deprecated); a message above the live frame
    # limit closes the socket (1009) before it is buffered.
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        ws="websockets-sansio",
        ws_max_size=settings.live_frame_bytes + 1024,
    )


@serve_app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True, help="The admin's e-mail address.")],
    data_dir: DataDir = None,
) -> None:
    """Create an admin account (password from FACEHEALTH_ADMIN_PASSWORD, else prompted)."""
    from facehealth.serve.accounts import create_user
    from facehealth.serve.db import make_engine, make_sessionmaker, upgrade
    from facehealth.serve.settings import load_settings

    password = os.environ.get("FACEHEALTH_ADMIN_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    settings = load_settings(data_dir)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        try:
            user = create_user(session, email, password, "admin", approved=True)
        except ValueError as exc:
            fail(exc)
        out.print(f"admin {user.email} created")
    engine.dispose()
