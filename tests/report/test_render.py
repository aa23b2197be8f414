from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from facehealth.report import RenderError, report_pdf, screenshot
from facehealth.report import render as render_module

needs_chromium = pytest.mark.skipif(
    render_module.find_chromium() is None,
    reason="Chromium is not installed (Debian/Ubuntu: apt-get install -y chromium); PDF/PNG rendering is skipped",
)


@needs_chromium
def test_pdf_and_screenshot_of_the_report(full_report, tmp_path):
    html = tmp_path / "report.html"
    shutil.copy(full_report, html)
    pdf = report_pdf(html)
    assert pdf == tmp_path / "report.pdf"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 100_000  # the figures are in it
    assert data.count(b"/Type /Page") >= 5 or data.count(b"/Type/Page") >= 5
    png = screenshot(html, tmp_path / "shot.png", width=1000, height=1600)
    image = np.asarray(Image.open(io.BytesIO(png.read_bytes())).convert("L"))
    assert image.shape == (1600, 1000)
    assert image.std() > 20  # not a blank page: text, tables and the banner are drawn
    # the SYNTHETIC banner's amber fill is on the first screen
    rgb = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(int)
    amber = (abs(rgb[:, 0] - 255) < 4) & (abs(rgb[:, 1] - 243) < 4) & (abs(rgb[:, 2] - 205) < 6)
    assert amber.sum() > 5_000


def test_missing_chromium_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(render_module, "find_chromium", lambda: None)
    (tmp_path / "r.html").write_text("<html></html>")
    with pytest.raises(RenderError, match="apt-get install -y chromium"):
        report_pdf(tmp_path / "r.html")
