"""The run's stages on small contexts: skip rules and their reasons, where stages write, pure helpers.

No stage body that trains runs here (tests/workflow/test_run.py runs whole studies); the bodies tested
are the checks that fail before any work starts.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from facehealth.errors import SchemaError
from facehealth.studies.config import StudyConfig
from facehealth.train.config import PretrainConfig
from facehealth.train.finetune import FinetuneConfig
from facehealth.workflow.records import STAGES, RunConfig, RunRecord
from facehealth.workflow.stages import STAGE_FUNCTIONS, StageContext, headline_numbers, study_config_for_run


def _ctx(tmp_path: Path, cohort: Path | None = None, progress=None, **cfg) -> StageContext:  # noqa: ANN001
    """A context on ``cohort`` (default: an empty folder) writing into tmp_path/run."""
    cohort = cohort if cohort is not None else tmp_path / "cohort"
    cohort.mkdir(parents=True, exist_ok=True)
    out = tmp_path / "run"
    return StageContext(RunConfig(out_dir=str(out), **cfg), cohort, out, progress, RunRecord(out))


def _skip(name: str, ctx: StageContext) -> str | None:
    return STAGE_FUNCTIONS[name].skip_reason(ctx)


def _labels(cohort: Path, affective, fmt: str = "csv") -> None:  # noqa: ANN001
    frame = pd.DataFrame({"subject_id": ["S0", "S1", "S2"], "age": [30.0, 50.0, 70.0]})
    if affective is not None:
        frame["affective"] = affective
    if fmt == "csv":
        frame.to_csv(cohort / "labels.csv", index=False)
    else:
        frame.to_parquet(cohort / "labels.parquet", index=False)


def test_every_stage_of_the_run_has_a_body_and_a_skip_rule():
    assert tuple(STAGE_FUNCTIONS) == STAGES
    assert all(callable(s.run) and callable(s.skip_reason) for s in STAGE_FUNCTIONS.values())


def test_the_core_stages_never_skip(tmp_path):
    ctx = _ctx(tmp_path, pretrain=None, explain=False, robustness=False, report=False)
    assert [_skip(name, ctx) for name in ("faces", "finetune", "evaluate")] == [None, None, None]


def test_default_config_runs_every_stage_but_the_optional_ones(tmp_path):
    """Defaults: pretraining, explanations, robustness and the report on; no affective model, no studies."""
    ctx = _ctx(tmp_path)
    skipped = {name: reason for name in STAGES if (reason := _skip(name, ctx))}
    assert skipped == {
        "affective": "off in the config (affective: null)",
        "studies": "none listed in the config (studies: [])",
    }


@pytest.mark.parametrize("flag", ["explain", "robustness", "report"])
def test_a_stage_turned_off_says_which_flag(tmp_path, flag):
    assert _skip(flag, _ctx(tmp_path, **{flag: False})) == f"off in the config ({flag}: false)"
    assert _skip(flag, _ctx(tmp_path, **{flag: True})) is None


def test_pretraining_off_is_skipped_with_its_reason(tmp_path):
    assert _skip("pretrain", _ctx(tmp_path, pretrain=None)) == "off in the config (pretrain: null)"
    assert _skip("pretrain", _ctx(tmp_path, pretrain=PretrainConfig())) is None


def test_studies_run_only_when_listed(tmp_path):
    assert _skip("studies", _ctx(tmp_path, studies=())) == "none listed in the config (studies: [])"
    assert _skip("studies", _ctx(tmp_path, studies=("external",))) is None


@pytest.mark.parametrize(
    "labels, reason",
    [
        ("none", "the cohort has no labels table"),
        ([None, None, None], "the cohort has no affective labels"),  # the column is there, every value missing
        ("no column", "the cohort has no affective labels"),
        (["healthy", "MDD", None], None),
    ],
    ids=["no-table", "all-missing", "no-column", "labelled"],
)
def test_the_affective_stage_needs_the_config_and_affective_labels(tmp_path, labels, reason):
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    if labels == "no column":
        _labels(cohort, None)
    elif labels != "none":
        _labels(cohort, labels)
    on = _ctx(tmp_path, cohort, affective=FinetuneConfig(input="video"))
    assert _skip("affective", on) == reason
    # Turned off in the config, it is skipped whatever the cohort holds, and says so first.
    assert _skip("affective", _ctx(tmp_path, cohort, affective=None)) == "off in the config (affective: null)"


def test_affective_labels_are_read_from_a_parquet_table_too(tmp_path):
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    _labels(cohort, ["BPD", None, "healthy"], fmt="parquet")
    assert _skip("affective", _ctx(tmp_path, cohort, affective=FinetuneConfig(input="video"))) is None


def test_the_affective_stage_without_videos_fails_before_training(tmp_path):
    """Affective labels but no video frame among the prepared crops: a clear error, not an empty model."""
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    _labels(cohort, ["healthy", "MDD", "BPD"])
    ctx = _ctx(tmp_path, cohort, affective=FinetuneConfig(input="video"))
    ctx.faces_dir.mkdir(parents=True)
    pd.DataFrame({"kind": ["image", "image"]}).to_parquet(ctx.faces_dir / "manifest.parquet")
    assert _skip("affective", ctx) is None
    with pytest.raises(SchemaError, match="needs stimulus videos"):
        STAGE_FUNCTIONS["affective"].run(ctx)


def test_evaluate_without_predictions_is_a_clear_error(cohort_copy, tmp_path):
    ctx = _ctx(tmp_path, cohort_copy)
    with pytest.raises(SchemaError, match="no predictions to evaluate"):
        STAGE_FUNCTIONS["evaluate"].run(ctx)


def test_each_stage_writes_into_its_own_folder_of_the_run(tmp_path):
    """The places docs/run_folder.md lists."""
    ctx = _ctx(tmp_path)
    out = tmp_path / "run"
    assert (ctx.faces_dir, ctx.pretrain_dir, ctx.finetune_dir, ctx.affective_dir, ctx.evaluate_dir) == (
        out / "cohort_faces",
        out / "pretrain",
        out / "finetune",
        out / "finetune_affective",
        out / "evaluate",
    )


def test_progress_bars_are_optional_and_training_bars_drop_the_loss(tmp_path):
    assert _ctx(tmp_path).bar("faces") is None and _ctx(tmp_path).loss_bar("pretrain") is None
    calls: list[tuple[str, int, int]] = []
    ctx = _ctx(tmp_path, progress=lambda stage: lambda done, total: calls.append((stage, done, total)))
    ctx.bar("faces")(1, 4)
    ctx.loss_bar("pretrain (MAE)")(2, 10, 0.53)
    assert calls == [("faces", 1, 4), ("pretrain (MAE)", 2, 10)]


def _ci(value: float, n: int = 40) -> dict:
    return {"value": value, "low": value - 0.1, "high": value + 0.1, "n_subjects": n, "extra": "dropped"}


def test_headline_numbers_pick_one_metric_per_task_and_split():
    report = {
        "splits": {
            "val": {"cad": {"auroc": _ci(0.9)}},  # validation numbers are not headlines
            "test": {
                "age": {"age": {"mae": _ci(6.2), "pearson_r": _ci(0.8)}},
                "cad": {"auroc": _ci(0.71), "auprc": _ci(0.4)},
                "survival": {"c_index": _ci(0.66)},
                "biomarkers": {"haemoglobin": {"pearson_r": _ci(0.3)}, "sodium": {"pearson_r": _ci(0.1)}},
                "affective": {"accuracy": {"not": "a metric record"}},  # malformed: left out, no crash
            },
            "external": {"cad": {"auroc": _ci(0.65, 20)}},
        }
    }
    got = headline_numbers(report)
    assert set(got) == {
        "test.age.age.mae",
        "test.cad.auroc",
        "test.survival.c_index",
        "test.biomarkers.haemoglobin.pearson_r",
        "external.cad.auroc",
    }
    assert got["external.cad.auroc"] == {"value": 0.65, "low": 0.55, "high": 0.75, "n_subjects": 20}
    assert headline_numbers({"splits": {}}) == {}


def test_study_settings_build_on_the_runs_recipe_and_encoder(tmp_path):
    """The studies stage: the run's backbone and MAE encoder, with the study's overrides on top."""
    finetune = FinetuneConfig(backbone="vit_tiny_patch16", img_size=32, epochs=1, tasks=("age", "cad", "survival"))
    ctx = _ctx(tmp_path, finetune=finetune, study=StudyConfig(finetune_config=None, finetune={"img_size": 64}))
    study = study_config_for_run(ctx)
    assert study.finetune["backbone"] == "vit_tiny_patch16" and study.finetune["img_size"] == 64
    assert study.finetune["epochs"] == 1
    assert not {"cohort", "prepared", "out_dir", "init_from", "tasks", "seed"} & set(study.finetune)
    assert study.arms["foundation"]["init_from"] == str(tmp_path / "run" / "pretrain" / "checkpoint-last.safetensors")
    assert study.cohort == str(tmp_path / "cohort") and study.prepared == str(tmp_path / "run" / "cohort_faces")
    assert study.out_dir == str(tmp_path / "run" / "studies") and study.finetune_config is None


def test_study_tasks_are_limited_to_the_runs_and_pretraining_off_leaves_the_arms_alone(tmp_path):
    finetune = FinetuneConfig(tasks=("age", "biomarkers"), biomarkers=("haemoglobin",))
    study = StudyConfig(finetune_config=None, tasks=("age", "cad"))
    got = study_config_for_run(_ctx(tmp_path, pretrain=None, finetune=finetune, study=study))
    assert got.tasks == ("age",) and got.biomarkers == ()
    assert got.arms == study.arms  # no MAE stage in this run: the study's own encoder paths stand
    # No task in common: the study takes the run's tasks, biomarkers included.
    study = dataclasses.replace(study, tasks=("cad",))
    got = study_config_for_run(_ctx(tmp_path, pretrain=None, finetune=finetune, study=study))
    assert got.tasks == ("age", "biomarkers") and got.biomarkers == ("haemoglobin",)
