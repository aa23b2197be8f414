from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pandas as pd
import pytest
from typer.testing import CliRunner

from facehealth.cli import app
from tests.conftest import fixture_path

runner = CliRunner()
FACEHEALTH = str(Path(sys.executable).with_name("facehealth"))


def test_detect_group_photo_json_via_the_installed_entry_point(tmp_path):
    """The issue's acceptance command, run as a user would: 4 faces with 68 landmarks each."""
    draw = tmp_path / "drawn.png"
    proc = subprocess.run(
        [FACEHEALTH, "faces", "detect", str(fixture_path("group4.jpg")), "--json", "--draw", str(draw)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert len(report) == 1 and report[0]["detected"] == 4
    assert report[0]["source"] == str(fixture_path("group4.jpg"))
    assert (report[0]["width"], report[0]["height"]) == (1403, 360)
    faces = report[0]["faces"]
    assert len(faces) == 4 and all(len(f["landmarks"]) == 68 for f in faces)
    assert all(set(f["quality"]) >= {"passed", "reasons", "blur", "yaw"} for f in faces)
    # The per-face quality reports also sit at the top, as in `predict --json`.
    assert report[0]["quality"] == [f["quality"] for f in faces]
    drawn = cv2.imread(str(draw))
    assert drawn.shape == (360, 1403, 3)


def test_detect_reports_a_bad_file_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    result = runner.invoke(app, ["faces", "detect", str(fixture_path("obama.jpg")), str(bad), "--json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert len(report[0]["faces"]) == 1 and "not a readable image" in report[1]["error"]
    assert [r["source"] for r in report] == [str(fixture_path("obama.jpg")), str(bad)]  # as `predict --json`
    assert "Traceback" not in result.output


def test_bad_config_is_a_clear_error(tmp_path):
    cfg = tmp_path / "faces.yaml"
    cfg.write_text("detector:\n  nmae: haar\n")
    result = runner.invoke(app, ["faces", "detect", str(fixture_path("obama.jpg")), "--config", str(cfg)])
    assert result.exit_code == 2
    assert "unknown key 'nmae'" in result.output and "did you mean name" in result.output


def test_prepare_command_writes_outputs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jpg").write_bytes(fixture_path("obama.jpg").read_bytes())
    (src / "b.jpg").write_bytes(fixture_path("obama_partial_face.jpg").read_bytes())
    result = runner.invoke(app, ["faces", "prepare", str(src), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "crops kept" in result.output and "partial_face" in result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["crops"] == 1 and summary["rejections"] == {"partial_face": 1}


def test_repo_config_file_loads():
    from facehealth.config import load_config
    from facehealth.faces.config import FacesConfig

    assert load_config(FacesConfig, Path(__file__).parents[1] / "configs" / "faces.yaml") == FacesConfig()


TINY_RUN = """
pretrain: {img_size: 32, epochs: 1, decoder_dim: 32, decoder_depth: 1, decoder_heads: 2}
finetune: {img_size: 32, epochs: 1, biomarkers: [haemoglobin, sodium]}
affective: {img_size: 32, epochs: 1, frames: 8}
n_boot: 20
"""


def test_demo_runs_end_to_end(tmp_path):
    """The README's main job, with seconds-sized training (--config) on 24 synthetic subjects."""
    (tmp_path / "tiny.yaml").write_text(TINY_RUN)
    args = ["demo", "--out", str(tmp_path / "demo"), "--subjects", "24", "--config", str(tmp_path / "tiny.yaml")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "demo" / "faces" / "summary.json").read_text())
    assert summary["crops"] >= 20 and summary["unreadable"] == 1
    assert {"blurry", "underexposed", "too_small", "partial_face", "no_face", "not_selected"} <= set(
        summary["rejections"]
    )
    cohort_faces = json.loads((tmp_path / "demo" / "cohort_faces" / "summary.json").read_text())
    assert cohort_faces["items"] == 24 * 4 and cohort_faces["crops"] >= 0.9 * (24 * 3 + 24 * 25)  # 3 photos, 1 video
    assert (tmp_path / "demo" / "cohort" / "splits.csv").is_file()
    run = json.loads((tmp_path / "demo" / "run.json").read_text())
    assert run["synthetic"] and run["profile"] == "quick" and run["finished"]
    for stage in ("cohort", "qc_showcase", "faces", "pretrain", "finetune", "affective", "evaluate"):
        assert run["stages"][stage]["status"] == "done", (stage, run["stages"][stage])
    metrics = json.loads((tmp_path / "demo" / "evaluate" / "metrics.json").read_text())
    assert {"biomarkers", "age", "survival", "cad", "affective"} <= set(metrics["splits"]["test"])
    assert "splits by subject" in result.output and "Headline numbers" in result.output
    assert "test.cad.auroc" in result.output
    assert (tmp_path / "demo" / "evaluate" / "survival.json").is_file()
    page = (tmp_path / "demo" / "report.html").read_text()
    assert "SYNTHETIC DATA" in page and 'data-metric="splits.test.cad.auroc"' in page
    assert f"report: {tmp_path / 'demo' / 'report.html'}" in result.output

    # The per-person report of a synthetic subject, twice: the second visit has a trend.
    photo = next((tmp_path / "demo" / "cohort" / "media").glob("S*/img0.jpg"))
    args = ["report", "person", "--model", str(tmp_path / "demo" / "finetune" / "checkpoint-best.safetensors")]
    args += ["--data-dir", str(tmp_path / "service"), "--subject", "S1", "--input", str(photo)]
    first = runner.invoke(app, [*args, "--time", "2026-01-10"])
    second = runner.invoke(app, [*args, "--time", "2026-07-02"])
    assert first.exit_code == second.exit_code == 0, first.output
    assert "not a diagnosis" in first.output and "last visit" in second.output
    assert (tmp_path / "service" / "facehealth.db").is_file()  # the service's database keeps the visits
    result = runner.invoke(app, ["report", str(tmp_path), "--no-pdf"])
    assert result.exit_code == 2 and "not a run folder" in result.output


def test_demo_rejects_an_unknown_profile(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--profile", "huge"])
    assert result.exit_code == 2 and "unknown demo profile 'huge'" in result.output


def test_cohort_synth_validate_split_commands(tmp_path):
    """The issue's acceptance commands: synthesize 200 subjects, validate, split."""
    cohort = tmp_path / "c"
    result = runner.invoke(app, ["cohort", "synth", "--out", str(cohort), "--subjects", "200", "--seed", "0"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["cohort", "validate", str(cohort)])
    assert result.exit_code == 0, result.output
    assert "subjects: 200 rows, media: 800 rows" in result.output
    result = runner.invoke(app, ["cohort", "split", str(cohort), "--stratify", "cad", "--external-site", "site_c"])
    assert result.exit_code == 0 and "no subject leaks" in result.output


def test_cohort_validate_reports_errors_with_exit_1(tmp_path):
    cohort = tmp_path / "c"
    runner.invoke(app, ["cohort", "synth", "--out", str(cohort), "--subjects", "4", "--images", "1"])
    text = (cohort / "subjects.csv").read_text().splitlines()
    text[2] = text[2].replace(",F,", ",woman,").replace(",M,", ",man,")
    (cohort / "subjects.csv").write_text("\n".join(text) + "\n")
    result = runner.invoke(app, ["cohort", "validate", str(cohort)])
    assert result.exit_code == 1
    assert "subjects, row 2, column 'sex'" in result.output
    result = runner.invoke(app, ["cohort", "split", str(cohort)])
    assert result.exit_code == 2 and "error(s)" in result.output


def test_cohort_import_command(tmp_path):
    src = tmp_path / "utk"
    src.mkdir()
    (src / "30_1_0_2017.jpg").write_bytes(fixture_path("obama.jpg").read_bytes())
    result = runner.invoke(app, ["cohort", "import", "utkface", str(src), "--out", str(tmp_path / "c")])
    assert result.exit_code == 0 and "1 subjects, 1 images" in result.output
    result = runner.invoke(app, ["cohort", "import", "celeba", str(src), "--out", str(tmp_path / "d")])
    assert result.exit_code == 2 and "unknown dataset kind" in result.output


def test_face_commands_do_not_import_torch():
    code = (
        "import sys; from facehealth.cli import app; from facehealth.faces.pipeline import FacePipeline; "
        "from facehealth.faces.prepare import prepare_faces; print('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_study_commands(cohort_copy, prepared_synth, tmp_path):
    """`facehealth study external` with a seconds-sized arm; a bad arm is a clear error (exit 2)."""
    import yaml

    config = {
        "cohort": str(cohort_copy),
        "prepared": str(prepared_synth),
        "out_dir": str(tmp_path / "studies"),
        "finetune_config": None,
        "finetune": {"backbone": "vit_tiny_patch16", "img_size": 32, "epochs": 1},
        "tasks": ["age"],
        "arms": {"vit_scratch": {"init_from": None}},
        "reference_arm": "vit_scratch",
        "external_sites": ["site_c"],
        "n_boot": 20,
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["study", "external", "--config", str(tmp_path / "study.yaml")])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(tmp_path / "studies" / "external.csv")
    assert set(rows["cohort"]) >= {"external"} and set(rows.loc[rows["cohort"] == "external", "site"]) == {"site_c"}
    config["arms"] = {"mystery": {"kind": "oracle"}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["study", "baselines", "--config", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2 and "arms.mystery.kind: 'oracle' not allowed" in result.output


def test_export_onnx_then_predict_with_it_matches_the_checkpoint(tiny_checkpoint, tmp_path):
    """`export onnx` writes a file that `predict --model` runs alone: same values, intervals and warning."""
    exported = tmp_path / "model.onnx"
    result = runner.invoke(app, ["export", "onnx", "--model", str(tiny_checkpoint), "--out", str(exported)])
    assert result.exit_code == 0, result.output
    assert exported.is_file() and "float32 weights" in result.output and "max |torch - onnxruntime|" in result.output
    photo = str(fixture_path("obama.jpg"))
    runs = [runner.invoke(app, ["predict", photo, "--model", str(m), "--json"]) for m in (tiny_checkpoint, exported)]
    assert all(r.exit_code == 0 for r in runs), [r.output for r in runs]
    want, got = (json.loads(r.stdout)[0] for r in runs)
    assert got["warnings"] == want["warnings"] and "synthetic faces" in got["warnings"][0]
    assert got["values"]["age"] == pytest.approx(want["values"]["age"], abs=1e-4)
    assert got["intervals"]["age"] == pytest.approx(want["intervals"]["age"], abs=1e-4)
    assert got["probabilities"]["cad"] == pytest.approx(want["probabilities"]["cad"], abs=1e-4)
    for key in ("cad", "survival"):  # every score with its interval, in both runtimes
        assert got["intervals"][key] == pytest.approx(want["intervals"][key], abs=1e-4)
    shown = runner.invoke(app, ["predict", photo, "--model", str(exported)])
    assert shown.exit_code == 0 and "cad " in shown.output and "risk survival" in shown.output
    assert shown.output.count("[") >= 3  # age, CAD and survival intervals are printed


def test_export_onnx_int8_and_a_bad_model_file_are_clear(tiny_checkpoint, tmp_path):
    exported = tmp_path / "model-int8.onnx"
    result = runner.invoke(app, ["export", "onnx", "--model", str(tiny_checkpoint), "--out", str(exported), "--int8"])
    assert result.exit_code == 0 and "int8 weights" in result.output, result.output
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(exported.read_bytes()[:1000])  # a truncated download
    result = runner.invoke(app, ["predict", str(fixture_path("obama.jpg")), "--model", str(corrupt)])
    assert result.exit_code == 2 and "not a readable ONNX model" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["export", "onnx", "--model", str(tmp_path / "none.safetensors"), "--out", "x.onnx"])
    assert result.exit_code == 2 and "checkpoint not found" in result.output
