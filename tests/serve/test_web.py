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
    from tests.serve.conftest import ADMIN

    admin = sqlite_server.login(*ADMIN)["access_token"]
    invitation = sqlite_server.call("POST", "/api/users/invitations", token=admin, json_body={"role": "clinician"})
    email, password = f"browser-{invitation.json()['token'][:6].lower()}@example.org", "a-long-password-9"
    shots = Path(os.environ.get("FACEHEALTH_ARTIFACTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone-sized screen
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(sqlite_server.url + "/#/join/" + invitation.json()["token"])  # the invitation link
        page.get_by_label("New account's e-mail address").fill(email)
        page.get_by_label("New password").fill(password)
        page.get_by_role("button", name="Create account").click()
        page.get_by_text("Account created: sign in above.").wait_for()
        page.get_by_label("Password", exact=True).fill(password)  # the e-mail is filled in for us
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Name or code of a new person").fill("Browser person")
        page.get_by_role("button", name="Add person").click()
        page.get_by_role("link", name="Browser person (0 visits)").click()
        photos = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")
        for n, name in enumerate(photos, 1):
            page.get_by_label("Photo of the face (JPEG, PNG or WebP)").set_input_files(str(fixture_path(name)))
            page.get_by_role("button", name="Analyse photo").click()
            page.get_by_text("Analysis done.").wait_for(timeout=60_000)
            page.locator(f"#history-table tbody tr:nth-child({n})").wait_for()
            if n == 1:
                page.get_by_text("Change alerts start after 3 visits.").wait_for()
        assert page.locator("#history-table tbody tr").count() == len(photos)
        page.get_by_label("Video of the face").set_input_files(str(_face_video(tmp_path / "visit.mp4")))
        page.get_by_role("button", name="Analyse video").click()
        page.get_by_text("Video analysis done.").wait_for(timeout=120_000)
        page.locator(f"#history-table tbody tr:nth-child({len(photos) + 1})").wait_for()
        assert page.locator("#charts svg").count() >= 1
        assert "synthetic" in page.locator("#report").inner_text().lower()
        alerts = page.locator("#alerts").inner_text()
        assert "95 of 100 of your own visits" in alerts
        assert ("Change alert:" in alerts) or ("No change alert" in alerts)
        flagged = page.locator("#charts circle[fill='#a50e0e']").count()
        page.screenshot(path=str(shots / "serve-person-page.png"), full_page=True)
        browser.close()
    assert not errors, errors
    # Every alert in the person's history is drawn as a red point, and only those.
    token = sqlite_server.login(email, password)["access_token"]
    pid = sqlite_server.call("GET", "/api/people", token=token).json()[0]["id"]
    history = sqlite_server.call("GET", f"/api/people/{pid}/analyses", token=token).json()
    shown = lambda h: set(h["values"]) | {k for k, p in h["probabilities"].items() if isinstance(p, float)}  # noqa: E731
    assert flagged == sum(h["alerts"][k] == "alert" for h in history for k in shown(h))


def _face_video(path: Path) -> Path:
    """A 2 s MP4 of a real face, as a phone would upload it."""
    import numpy as np

    from facehealth.faces.io import read_image, write_video
    from facehealth.live.synthetic import place_face

    canvas, _, _ = place_face(np.asarray(read_image(fixture_path("obama2.jpg"))))
    write_video(path, (np.roll(canvas, i % 3, axis=1) for i in range(20)), fps=10.0)
    return path


def _fake_camera_clip(path: Path, bpm: float) -> None:
    """A 12 s 640x480 Y4M of a real photo with a planted pulse: what Chromium's fake camera plays."""
    import numpy as np

    from facehealth.faces.io import read_image
    from facehealth.faces.pipeline import FacePipeline
    from facehealth.live.synthetic import PulseVideoSpec, place_face, pulse_frames, skin_mask, write_y4m

    canvas, _, _ = place_face(np.asarray(read_image(fixture_path("obama.jpg"))))
    landmarks = FacePipeline().process(canvas).faces[0].landmarks
    spec = PulseVideoSpec(bpm=bpm, seconds=12.0, fps=15.0, amplitude=0.006, jpeg_quality=None)
    write_y4m(path, pulse_frames(canvas, skin_mask(canvas.shape[:2], landmarks), spec), fps=15)


def test_live_page_shows_the_face_a_heart_rate_and_scores_from_the_fake_camera(sqlite_server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium (Debian package chromium); .ci/run installs it")
    bpm = 72.0
    clip = tmp_path / "camera.y4m"
    _fake_camera_clip(clip, bpm)
    _token, email = sqlite_server.user()
    shots = Path(os.environ.get("FACEHEALTH_ARTIFACTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    args = [
        "--no-sandbox",
        "--use-fake-ui-for-media-stream",  # grant the camera without a prompt
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(sqlite_server.url + "/")
        page.get_by_label("E-mail address", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill("a-long-password-9")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Live camera").click()
        page.get_by_role("button", name="Start camera").click()
        page.get_by_text("beats per minute").wait_for(timeout=120_000)
        rows = page.locator("#scores tbody tr")
        rows.first.wait_for(timeout=30_000)
        value_cells = "[...document.querySelectorAll('#scores tbody tr td:nth-child(2)')]"
        page.wait_for_function(f"{value_cells}.some(td => /^-?[0-9.]+$/.test(td.textContent))", timeout=60_000)
        hr_text = page.locator("#heart-rate").inner_text()
        warnings = page.locator("#warnings").inner_text()
        scores = page.locator("#scores").inner_text()
        stats = page.locator("#stats").inner_text()
        page.screenshot(path=str(shots / "serve-live-page.png"), full_page=True)
        page.get_by_role("button", name="Stop").click()
        browser.close()
    assert not errors, errors
    print(hr_text, "|", stats, "|", scores.replace("\n", " / "))
    measured = float(hr_text.split()[0])
    assert abs(measured - bpm) <= 6, hr_text
    assert "synthetic" in warnings.lower()
    assert "age" in scores
