from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from facehealth.config import load_config
from facehealth.errors import ConfigError, InputError
from facehealth.evaluate.clinical import point_metrics
from facehealth.models.checkpoint import PretrainMeta, load_checkpoint
from facehealth.models.tasks import build_tasks
from facehealth.train.config import OptimConfig
from facehealth.train.engine import TrainingError, pretrain_mae
from facehealth.train.finetune import FinetuneConfig, _param_groups, finetune
from tests.conftest import SESSION_SPLITS, tiny_pretrain_config


@pytest.fixture(scope="module")
def split_cohort(synth_cohort):
    from facehealth.data.cohort import load_cohort
    from facehealth.data.splits import make_splits, save_splits

    cohort = load_cohort(synth_cohort)
    save_splits(make_splits(cohort.subject_labels(), 0, **SESSION_SPLITS), synth_cohort)
    return synth_cohort


@pytest.fixture(scope="module")
def mae_checkpoint(prepared_synth, tmp_path_factory):
    out = tmp_path_factory.mktemp("mae")
    cfg = tiny_pretrain_config(prepared_synth, out, epochs=1, optim=OptimConfig())
    return pretrain_mae(cfg).checkpoint


def _cfg(cohort, prepared, out, **kw) -> FinetuneConfig:
    base = dict(
        cohort=str(cohort),
        prepared=str(prepared),
        out_dir=str(out),
        backbone="vit_tiny_patch16",
        img_size=64,
        tasks=("biomarkers", "age", "survival", "cad"),
        biomarkers=("haemoglobin", "total_bilirubin", "sodium"),
        epochs=2,
        batch_size=32,
        optim=OptimConfig(base_lr=2e-3, warmup_epochs=0.5, betas=(0.9, 0.999)),
    )
    base.update(kw)
    return FinetuneConfig(**base)


def test_finetune_from_mae_writes_checkpoint_predictions_and_metrics(
    split_cohort, prepared_synth, mae_checkpoint, tmp_path
):
    result = finetune(
        _cfg(split_cohort, prepared_synth, tmp_path / "ft", init_from=str(mae_checkpoint), age_balanced_epochs=1)
    )
    weights, meta = load_checkpoint(result.checkpoint)
    assert meta.init["loaded"] > 10 and meta.best_epoch == result.best_epoch >= 1
    assert [t.name for t in meta.tasks] == ["biomarkers", "age", "survival", "cad"]
    predictions = pd.read_parquet(tmp_path / "ft" / "predictions.parquet")
    assert predictions.groupby("subject_id")["split"].nunique().max() == 1  # one split per subject
    assert set(predictions["split"]) == {"train", "val", "test", "external"}
    assert {"pred_haemoglobin", "pred_age", "prob_cad", "risk_survival", "n_images"} <= set(predictions.columns)
    assert json.loads((tmp_path / "ft" / "metrics.json").read_text())["best_epoch"] == result.best_epoch
    metrics = point_metrics(result.predictions, result.labels, result.tasks)
    assert {"age_mae", "cad_auroc", "survival_c_index", "haemoglobin_r"} <= set(metrics["test"])
    # Predictions are in clinical units: ages near the cohort's range, not standardised values.
    assert 20 < predictions["pred_age"].median() < 90


def test_linear_probe_only_trains_the_heads(split_cohort, prepared_synth, mae_checkpoint, tmp_path):
    result = finetune(
        _cfg(
            split_cohort,
            prepared_synth,
            tmp_path / "lp",
            init_from=str(mae_checkpoint),
            mode="linear_probe",
            epochs=1,
            tasks=("cad",),
        )
    )
    tuned, _ = load_checkpoint(result.checkpoint)
    mae, _ = load_checkpoint(mae_checkpoint, PretrainMeta)
    assert torch.equal(tuned["backbone.blocks.0.attn.qkv.weight"], mae["encoder.blocks.0.attn.qkv.weight"])


def test_layer_decay_scales_earlier_blocks_down():
    from facehealth.models.multitask import MultiTaskModel, TaskSpec

    model = MultiTaskModel("vit_tiny_patch16", [TaskSpec("cad", "binary", ("cad",))], img_size=32)
    groups = _param_groups(model, 1.0, FinetuneConfig(layer_decay=0.5))
    scales = sorted({g["lr_scale"] for g in groups})
    depth = len(model.backbone.blocks)
    assert scales[0] == pytest.approx(0.5 ** (depth + 1)) and scales[-1] == 1.0


def test_unknown_or_unsupported_tasks_are_clear_errors():
    labels = pd.DataFrame({"subject_id": ["a"], "age": [40.0], "cad": [1]})
    with pytest.raises(ConfigError, match="unknown task 'bmi'"):
        build_tasks(("bmi",), labels)
    with pytest.raises(ConfigError, match="needs label column"):
        build_tasks(("survival",), labels)


def test_config_file_loads():
    cfg = load_config(FinetuneConfig, Path(__file__).parents[2] / "configs" / "finetune.yaml")
    assert cfg.tasks == ("biomarkers", "age", "survival", "cad") and cfg.layer_decay == 0.75


def test_predict_image_video_and_cli(split_cohort, prepared_synth, mae_checkpoint, tmp_path):
    from typer.testing import CliRunner

    import facehealth
    from facehealth.cli import app
    from facehealth.errors import NoFaceError
    from facehealth.faces.io import read_image, write_video

    result = finetune(
        _cfg(
            split_cohort,
            prepared_synth,
            tmp_path / "ft",
            init_from=str(mae_checkpoint),
            epochs=1,
            tasks=("age", "cad", "survival"),
        )
    )
    model = facehealth.load(result.checkpoint)
    photo = split_cohort / "media" / "S00001" / "img0.jpg"
    p = model.predict(photo)
    assert p.faces_used == 1 and set(p.values) == {"age"} and 0 <= p.probabilities["cad"] <= 1
    assert "survival" in p.risks and p.quality[0].passed
    same = model.predict(read_image(photo))
    assert same.values["age"] == pytest.approx(p.values["age"], abs=1e-4)
    video = tmp_path / "clip.mp4"
    write_video(video, [read_image(photo)] * 6 + [read_image(photo) * 0] * 2, fps=5)
    pv = model.predict(video)
    assert pv.frames_read == 8 and pv.faces_used == 6 and pv.rejected == {"no_face": 2}
    with pytest.raises(NoFaceError, match="no face passed the quality gate"):
        model.predict(read_image(photo) * 0)
    cli = CliRunner().invoke(app, ["predict", str(photo), "--model", str(result.checkpoint), "--json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)[0]["values"]["age"] == pytest.approx(p.values["age"], abs=1e-3)


def test_subject_input_with_attention_pooling(split_cohort, prepared_synth, tmp_path):
    result = finetune(
        _cfg(
            split_cohort,
            prepared_synth,
            tmp_path / "subj",
            input="subject",
            pooling="attention",
            images_per_subject=2,
            epochs=1,
            tasks=("cad", "age"),
        )
    )
    predictions = pd.read_parquet(tmp_path / "subj" / "predictions.parquet")
    assert (predictions["n_images"] == 1).all()  # one pooled item per subject
    assert predictions["subject_id"].is_unique
    import facehealth

    p = facehealth.load(result.checkpoint).predict(split_cohort / "media" / "S00002" / "img1.jpg")
    assert 0 <= p.probabilities["cad"] <= 1


def test_video_input_with_temporal_pooling_for_the_affective_task(tmp_path):
    import facehealth
    from facehealth.config import load_config
    from facehealth.data.cohort import load_cohort
    from facehealth.data.splits import make_splits, save_splits
    from facehealth.data.synth import SynthConfig, synthesize_cohort
    from facehealth.faces.config import FacesConfig
    from facehealth.faces.prepare import prepare_faces

    cohort = synthesize_cohort(tmp_path / "c", SynthConfig(subjects=12, images_per_subject=1, videos_per_subject=1))
    save_splits(make_splits(load_cohort(cohort).subject_labels(), 0, test_fraction=0.25, val_fraction=0.2), cohort)
    prepared = tmp_path / "p"
    prepare_faces(cohort, prepared, load_config(FacesConfig, overrides={"video": {"fps": 2.0}}), workers=2)
    video = next((cohort / "media" / "S00000").glob("video*.mp4"))
    # Pixels through a GRU; landmark motion alone in time slices (Emoface's expression dynamics).
    for frame_input, pooling in (("pixels", "temporal"), ("landmarks", "timebins")):
        out = tmp_path / frame_input
        result = finetune(
            _cfg(
                cohort,
                prepared,
                out,
                input="video",
                pooling=pooling,
                frames=16,
                epochs=2,
                tasks=("affective",),
                batch_size=4,
                frame_input=frame_input,
            )
        )
        predictions = pd.read_parquet(out / "predictions.parquet")
        probs = predictions[["prob_healthy", "prob_MDD", "prob_BPD"]].to_numpy()
        # Every subject with an accepted frame is scored (one whose frames the gate all rejected cannot be).
        manifest = pd.read_parquet(prepared / "manifest.parquet")
        scored = manifest.loc[manifest["kind"] == "video", "subject_id"].nunique()
        assert len(predictions) == scored >= 10 and abs(probs.sum(1) - 1).max() < 1e-5
        model = facehealth.load(result.checkpoint)
        assert model.model.frame_input == frame_input and (model.model.backbone is None) == (frame_input == "landmarks")
        p = model.predict(video)
        assert p.frames_read == 20 and set(p.probabilities["affective"]) == {"healthy", "MDD", "BPD"}
        assert abs(sum(p.probabilities["affective"].values()) - 1) < 1e-5
        if frame_input == "landmarks":  # a still photo has no motion to read
            photo = next((cohort / "media" / "S00000").glob("img*.jpg"))
            with pytest.raises(InputError, match="at least 3 accepted frames"):
                model.predict(photo)
            _stimulus_protocol_end_to_end(model, video, tmp_path / "protocol")
    with pytest.raises(TrainingError, match="input: video"):
        finetune(_cfg(cohort, prepared, tmp_path / "bad", tasks=("age",), frame_input="landmarks"))
    # The shipped Emoface config runs from the CLI (landmarks-only: no backbone, seconds to train).
    from typer.testing import CliRunner

    from facehealth.cli import app

    config = Path(__file__).parents[2] / "configs" / "affective.yaml"
    args = ["finetune", "--config", str(config), "--cohort", str(cohort), "--prepared", str(prepared)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "cli"), "--epochs", "2"])
    assert result.exit_code == 0, result.output
    _, meta = load_checkpoint(tmp_path / "cli" / "checkpoint-best.safetensors")
    assert (meta.frame_input, meta.pooling, meta.input) == ("landmarks", "timebins", "video")
    assert "affective_accuracy" in result.output


def _stimulus_protocol_end_to_end(model, video, folder):
    """Emoface's protocol: `facehealth record` shows the example sequence while a camera (here the
    subject's stimulus video) films the face; the video model then reads the recording by its sidecar."""
    import shutil

    from typer.testing import CliRunner

    from facehealth.cli import app
    from facehealth.models.predictor import NO_SIDECAR_WARNING

    assert model.meta.stimulus_aligned and model.meta.time_bins == 4  # trained on the sidecars' 4 stimuli
    sequence = Path(__file__).parents[2] / "configs" / "stimuli" / "example.yaml"
    args = ["record", "--stimuli", str(sequence), "--out", str(folder), "--camera", str(video), "--no-show"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    recorded = model.predict(folder / "recording.avi")
    original = model.predict(video)
    assert NO_SIDECAR_WARNING not in recorded.warnings and NO_SIDECAR_WARNING not in original.warnings
    # Same face, same stimulus clock: the recording reads like the original (re-encoding moves landmarks a little).
    for group, p in original.probabilities["affective"].items():
        assert abs(recorded.probabilities["affective"][group] - p) < 0.2, (group, recorded.probabilities)
    bare = folder / "bare.avi"
    shutil.copy(folder / "recording.avi", bare)  # the same video without its sidecar
    unaligned = model.predict(bare)
    assert NO_SIDECAR_WARNING in unaligned.warnings
    # The stimuli last 2, 3, 2 and 3 s: equal 2.5 s slices pool other frames, so the sidecar changes the features.
    assert unaligned.probabilities["affective"] != recorded.probabilities["affective"]


def test_a_seeded_cpu_fine_tune_is_repeatable_bit_for_bit(split_cohort, prepared_synth, tmp_path):
    """Same config and seed, two runs: identical predictions and metrics (the README numbers rely on it)."""
    import numpy as np

    from facehealth.evaluate.clinical import evaluate_predictions

    runs = []
    for name in ("a", "b"):
        cfg = _cfg(split_cohort, prepared_synth, tmp_path / name, tasks=("age", "cad"), epochs=1, device="cpu")
        result = finetune(cfg)
        report = evaluate_predictions(result.predictions, result.labels, result.tasks, np.random.default_rng(0), 50)
        runs.append((result.predictions, json.dumps(report, sort_keys=True)))
    pd.testing.assert_frame_equal(runs[0][0], runs[1][0], check_exact=True)
    assert runs[0][1] == runs[1][1]


def _held_out_r(result, column: str) -> float:
    held = result.predictions[result.predictions["split"].isin(["test", "external"])].merge(
        result.labels, on="subject_id"
    )
    return float(np.corrcoef(held[column], held[f"pred_{column}"])[0, 1])


def test_fine_tuning_learns_a_planted_sign_that_shuffled_labels_do_not_teach(
    split_cohort, prepared_synth, cohort_copy, tmp_path
):
    """Skin yellowness is painted in proportion to total bilirubin: a 2-epoch ViT-Ti finds it on held-out
    subjects; the same run on labels shuffled across subjects (the faces unchanged) does not."""
    import shutil

    shutil.copy(split_cohort / "splits.csv", cohort_copy / "splits.csv")
    labels = pd.read_csv(cohort_copy / "labels.csv")
    labels["total_bilirubin"] = np.random.default_rng(0).permutation(labels["total_bilirubin"].to_numpy())
    labels.to_csv(cohort_copy / "labels.csv", index=False)
    r = {}
    for name, cohort in (("planted", split_cohort), ("shuffled", cohort_copy)):
        cfg = _cfg(cohort, prepared_synth, tmp_path / name, tasks=("biomarkers",), biomarkers=("total_bilirubin",))
        r[name] = _held_out_r(finetune(cfg), "total_bilirubin")
    # Measured (seed 0, real portrait identities, held-out subjects): planted r 0.28, shuffled r -0.02.
    assert r["planted"] > 0.2 and r["shuffled"] < 0.15 and r["planted"] - r["shuffled"] > 0.2, r


def test_validation_is_split_into_selection_and_calibration_only_when_both_halves_are_big_enough():
    from facehealth.train.calibration import split_calibration

    ids = [f"s{i}" for i in range(24)]
    selection, calibration = split_calibration(ids, 0.5, seed=0)
    assert len(selection) == len(calibration) == 12 and not set(selection) & set(calibration)
    assert set(selection) | set(calibration) == set(ids)
    assert split_calibration(ids, 0.5, seed=0) == (selection, calibration)  # seeded
    assert split_calibration(ids[:15], 0.5, seed=0) == (ids[:15], [])  # 7 or 8 each: too few
