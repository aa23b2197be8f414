from __future__ import annotations

import json

import pandas as pd
import pytest

from facehealth.errors import SchemaError
from facehealth.train.config import OptimConfig, PretrainConfig
from facehealth.train.finetune import FinetuneConfig
from facehealth.workflow import RunConfig, run_pipeline


def _tiny(out) -> RunConfig:  # noqa: ANN001
    """Seconds-sized stages: ViT-Ti/16 at 32 px, one epoch each, a small bootstrap."""
    return RunConfig(
        out_dir=str(out),
        pretrain=PretrainConfig(
            backbone="vit_tiny_patch16", img_size=32, decoder_dim=32, decoder_depth=1, decoder_heads=2, epochs=1
        ),
        finetune=FinetuneConfig(
            backbone="vit_tiny_patch16",
            img_size=32,
            epochs=1,
            tasks=("age", "cad", "survival"),
            optim=OptimConfig(base_lr=2e-3, warmup_epochs=0.5),
        ),
        n_boot=20,
        external_sites=("site_c",),
        explain=False,
        robustness=False,
        report=False,
    )


def test_run_pipeline_records_every_stage_and_headline_numbers(cohort_copy, tmp_path):
    record = run_pipeline(_tiny(tmp_path / "run"), cohort_copy)
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    status = {k: v["status"] for k, v in saved["stages"].items()}
    assert status["faces"] == status["pretrain"] == status["finetune"] == status["evaluate"] == "done"
    assert status["affective"] == "skipped" and "off in the config" in saved["stages"]["affective"]["note"]
    assert saved["finished"] is not None and saved["headline"] == record.headline
    # Fine-tuning started from this run's MAE encoder, and the splits were made by subject with the
    # external site held out (the cohort had no splits.csv).
    meta = json.loads((tmp_path / "run" / "finetune" / "checkpoint-best.json").read_text())
    assert meta["config"]["init_from"].endswith("pretrain/checkpoint-last.safetensors") and meta["init"]["loaded"] > 10
    # The MAE encoder saw the training split's faces only (no held-out face leaks into pretraining).
    splits = pd.read_csv(cohort_copy / "splits.csv", dtype={"subject_id": str})
    split_of = dict(zip(splits["subject_id"], splits["split"]))
    seen = json.loads((tmp_path / "run" / "pretrain" / "checkpoint-last.json").read_text())["subjects"]
    assert seen and {split_of[s] for s in seen} == {"train"}
    assert "training subjects only" in saved["stages"]["pretrain"]["note"]
    metrics = json.loads((tmp_path / "run" / "evaluate" / "metrics.json").read_text())
    assert set(metrics["splits"]) == {"val", "test", "external"}  # training subjects are not scored by default
    headline = record.headline["test.cad.auroc"]
    assert headline["value"] == metrics["splits"]["test"]["cad"]["auroc"]["value"]
    assert headline["low"] <= headline["value"] <= headline["high"]
    assert (tmp_path / "run" / "config.resolved.yaml").is_file()


def test_a_failing_stage_is_recorded_and_raises(cohort_copy, tmp_path):
    text = (cohort_copy / "subjects.csv").read_text().splitlines()
    text[1] = text[1].replace(",F,", ",woman,").replace(",M,", ",man,")
    (cohort_copy / "subjects.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(SchemaError, match="cohort validate"):
        run_pipeline(_tiny(tmp_path / "run"), cohort_copy)
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["stages"]["faces"]["status"] == "failed" and "sex" in saved["stages"]["faces"]["note"]
    assert "finetune" not in saved["stages"] and saved["finished"] is None


def test_run_command_on_a_users_cohort(cohort_copy, tmp_path):
    """`facehealth run --cohort DIR --config YAML`: the same stages, printed with their status."""
    import yaml
    from typer.testing import CliRunner

    from facehealth.cli import app
    from facehealth.config import to_mapping

    settings = to_mapping(_tiny(tmp_path / "unused"))
    settings.update(pretrain=None, finetune={**settings["finetune"], "tasks": ["age"]})
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(settings))
    args = ["run", "--cohort", str(cohort_copy), "--config", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "skipped pretrain" in result.output and "done evaluate" in result.output
    assert "test.age.age.mae" in result.output  # a headline number with its interval
    saved = json.loads((tmp_path / "r" / "run.json").read_text())
    assert saved["profile"] == "custom" and not saved["synthetic"]


def test_two_seeded_runs_give_identical_metrics(cohort_copy, tmp_path):
    """The README's numbers rely on it: same cohort, config and seed, the same metrics.json byte for byte."""
    first = run_pipeline(_tiny(tmp_path / "a"), cohort_copy)
    second = run_pipeline(_tiny(tmp_path / "b"), cohort_copy)  # reuses the splits the first run wrote
    a, b = ((tmp_path / n / "evaluate" / "metrics.json").read_text() for n in ("a", "b"))
    assert a == b and first.headline == second.headline
    for name in ("pretrain/checkpoint-last.json", "finetune/checkpoint-best.json"):
        meta_a, meta_b = (json.loads((tmp_path / n / name).read_text()) for n in ("a", "b"))
        assert meta_a["history"] == meta_b["history"]
