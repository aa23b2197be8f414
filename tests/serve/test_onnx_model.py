"""The service loads an exported .onnx model from its settings and describes it as it does the checkpoint."""

from __future__ import annotations

import asyncio

import pytest

from facehealth.models.onnx_export import export_onnx
from facehealth.models.onnx_predictor import OnnxFaceHealthModel
from facehealth.serve.analyses import load_model, score
from facehealth.serve.app import create_app
from facehealth.serve.settings import load_settings
from tests.conftest import fixture_path


@pytest.fixture(scope="module")
def onnx_path(tiny_checkpoint, tmp_path_factory):
    return export_onnx(tiny_checkpoint, tmp_path_factory.mktemp("serve_onnx") / "model.onnx").path


def test_the_lifespan_loads_the_onnx_model_named_in_the_settings(onnx_path, tiny_checkpoint, tmp_path):
    from facehealth.faces.io import read_image

    app = create_app(load_settings(data_dir=tmp_path, model_path=onnx_path))

    async def started():  # noqa: ANN202 - runs the app's own lifespan (database, migrations, model)
        async with app.router.lifespan_context(app):
            return app.state.model

    handle = asyncio.run(started())
    assert isinstance(handle.model, OnnxFaceHealthModel) and handle.model_id == "model.onnx"
    torch_handle = load_model(tiny_checkpoint)
    # The model card (synthetic flag included) is the checkpoint's; only the file name differs.
    assert handle.card | {"model_id": ""} == torch_handle.card | {"model_id": ""} and handle.card["synthetic"]
    rgb = read_image(fixture_path("obama.jpg"))
    (got, got_iv), (want, want_iv) = score(handle, rgb), score(torch_handle, rgb)
    assert got.warnings == want.warnings and set(got_iv) == set(want_iv) == {"age", "cad", "survival"}
    assert got_iv["age"] == pytest.approx(want_iv["age"], abs=1e-4)
