"""HTML templates (Jinja2, package data) and headless-Chromium rendering to PDF and PNG.

Chromium runs with a throwaway profile and with networking features off (no sync, no component
updates, no background requests); the report itself has no external references, so the render
is fully offline.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from facehealth.errors import FaceHealthError

__all__ = ["render_template", "find_chromium", "report_pdf", "screenshot", "RenderError"]

_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class RenderError(FaceHealthError):
    """Chromium is missing or failed to render a page."""


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/<name>`` with autoescaping (text from run files is never trusted as HTML)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("facehealth.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(name).render(**context)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on PATH, or None."""
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_chromium(args: list[str], timeout: float) -> None:
    exe = find_chromium()
    if exe is None:
        raise RenderError(
            "Chromium is not installed; install it (Debian/Ubuntu: apt-get install -y chromium) to render PDF/PNG"
        )
    with tempfile.TemporaryDirectory(prefix="facehealth-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",  # containers and CI run as root, where the sandbox cannot start
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",  # small /dev/shm in containers crashes renderers
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RenderError(f"Chromium did not finish within {timeout:.0f} s") from exc
    if result.returncode != 0:
        raise RenderError(f"Chromium failed (exit {result.returncode}): {result.stderr.strip()[-500:]}")


def report_pdf(html_path: str | Path, pdf_path: str | Path | None = None, timeout: float = 120.0) -> Path:
    """Print an HTML report to PDF with headless Chromium (default: beside it, ``.pdf``).

    Raises:
        RenderError: Chromium is missing, failed, or wrote no file.
    """
    html_path = Path(html_path).resolve()
    pdf_path = Path(pdf_path) if pdf_path is not None else html_path.with_suffix(".pdf")
    pdf_path.unlink(missing_ok=True)
    _run_chromium(["--no-pdf-header-footer", f"--print-to-pdf={pdf_path.resolve()}", html_path.as_uri()], timeout)
    if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        raise RenderError(f"Chromium wrote no PDF at {pdf_path}")
    return pdf_path


def screenshot(
    html_path: str | Path, png_path: str | Path, width: int = 1280, height: int = 2400, timeout: float = 120.0
) -> Path:
    """A PNG of the top ``width`` x ``height`` pixels of an HTML page (headless Chromium), for visual checks."""
    html_path = Path(html_path).resolve()
    png_path = Path(png_path)
    png_path.unlink(missing_ok=True)
    _run_chromium(
        [f"--screenshot={png_path.resolve()}", f"--window-size={width},{height}", html_path.as_uri()], timeout
    )
    if not png_path.is_file() or png_path.stat().st_size == 0:
        raise RenderError(f"Chromium wrote no screenshot at {png_path}")
    return png_path
