"""`facehealth predict PHOTO` without --model: the pretrained apparent age alone."""

import json

from typer.testing import CliRunner

from facehealth.cli import app
from tests.conftest import fixture_path


def test_predict_without_model_gives_pretrained_apparent_age():
    result = CliRunner().invoke(app, ["predict", str(fixture_path("obama.jpg")), "--json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert report["faces_used"] == 1 and report["quality"]
    assert 25 < report["apparent_age_pretrained"] < 60  # measured 35.0
