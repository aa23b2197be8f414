"""`facehealth predict PHOTO` without --model: the pretrained apparent age alone."""

import json

import pytest
from typer.testing import CliRunner

from facehealth.cli import app
from tests.conftest import fixture_path


def test_predict_without_model_gives_pretrained_apparent_age():
    result = CliRunner().invoke(app, ["predict", str(fixture_path("obama.jpg")), "--json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert report["faces_used"] == 1 and report["quality"]
    assert 25 < report["apparent_age_pretrained"] < 60  # measured 35.0


@pytest.mark.slow  # the session's tiny_checkpoint takes about 27 s to train
def test_predict_with_model_adds_pretrained_apparent_age(tiny_checkpoint):
    args = ["predict", str(fixture_path("obama.jpg")), "--model", str(tiny_checkpoint), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert report["values"] and 25 < report["apparent_age_pretrained"] < 60
