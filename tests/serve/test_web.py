"""The web page in headless Chromium: sign in, add a person, upload a photo, see history and report."""

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import fixture_path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_sign_in_add_person_upload_and_read_the_report(sqlite_server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium (Debian package chromium); .ci/run installs it")
    _token, email = sqlite_server.user()
    shots = Path(os.environ.get("FACEHEALTH_ARTIFACTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone-sized screen
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(sqlite_server.url + "/")
        page.get_by_label("E-mail address").fill(email)
        page.get_by_label("Password").fill("a-long-password-9")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Name or code of a new person").fill("Browser person")
        page.get_by_role("button", name="Add person").click()
        page.get_by_role("link", name="Browser person (0 visits)").click()
        page.get_by_label("Photo of the face (JPEG, PNG or WebP)").set_input_files(str(fixture_path("obama.jpg")))
        page.get_by_role("button", name="Analyse").click()
        page.get_by_text("Analysis done.").wait_for(timeout=60_000)
        page.locator("#history-table tbody tr").first.wait_for()
        assert page.locator("#history-table tbody tr").count() == 1
        assert page.locator("#charts svg").count() >= 1
        assert "synthetic" in page.locator("#report").inner_text().lower()
        page.screenshot(path=str(shots / "serve-person-page.png"), full_page=True)
        browser.close()
    assert not errors, errors
