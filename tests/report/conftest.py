"""A small, fake but self-consistent run folder: tables, metrics from the real evaluate code, curves."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from facehealth.models.checkpoint import CHECKPOINT_VERSION

MARKERS = ("haemoglobin", "haematocrit", "alt", "creatinine", "glucose", "ldl_cholesterol", "crp", "sodium")
CLASSES = ("healthy", "MDD", "BPD")


def _tasks():
    from facehealth.models.multitask import TaskSpec

    return [
        TaskSpec("biomarkers", "regression", MARKERS),
        TaskSpec("age", "regression", ("age",)),
        TaskSpec("cad", "binary", ("cad",)),
        TaskSpec("survival", "cox", ("survival_time", "survival_event")),
        TaskSpec("affective", "multiclass", ("affective_code",), CLASSES),
    ]


def _cohort(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from facehealth.data.biomarkers import BIOMARKERS

    ids = [f"s{i:03d}" for i in range(n)]
    site = np.array(["site_a", "site_b", "site_c"])[np.arange(n) % 3]
    subjects = pd.DataFrame(
        {"subject_id": ids, "age": rng.uniform(25, 80, n).round(1), "sex": rng.choice(["F", "M"], n), "site": site}
    )
    labels = pd.DataFrame({"subject_id": ids})
    for c in MARKERS:
        b = BIOMARKERS[c]
        labels[c] = rng.normal(b.mid, (b.ref_high - b.ref_low) / 4, n)
    labels.loc[rng.random(n) < 0.1, "crp"] = np.nan  # a label that is sometimes missing
    risk = (subjects["age"] - 50) / 15 + rng.normal(0, 0.5, n)
    labels["cad"] = (rng.random(n) < 1 / (1 + np.exp(-(risk - 0.5)))).astype(int)
    labels["affective"] = rng.choice(CLASSES, n)
    labels["survival_time"] = rng.exponential(8 * np.exp(-0.6 * risk)).clip(0.1, 15).round(2)
    labels["survival_event"] = (labels["survival_time"] < 10).astype(int)
    labels.loc[labels["survival_event"] == 0, "survival_time"] = 10.0
    split = np.where(site == "site_c", "external", rng.choice(["train", "val", "test"], n, p=[0.4, 0.25, 0.35]))
    splits = pd.DataFrame({"subject_id": ids, "split": split})
    return subjects, labels, splits


def _predictions(rng: np.random.Generator, subjects, labels, splits) -> pd.DataFrame:  # noqa: ANN001
    n = len(subjects)
    pred = splits.copy()
    for c in MARKERS:
        truth = labels[c].fillna(labels[c].mean())
        pred[f"pred_{c}"] = truth + rng.normal(0, truth.std() * 0.8, n)
    pred["pred_age"] = subjects["age"] + rng.normal(0, 6, n)
    pred["prob_cad"] = np.clip(0.3 * labels["cad"] + rng.uniform(0, 0.7, n), 0, 1)
    code = pd.Series(labels["affective"]).map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    logits = rng.normal(0, 1, (n, 3))
    logits[np.arange(n), code] += 1.5
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    for i, c in enumerate(CLASSES):
        pred[f"prob_{c}"] = p[:, i]
    pred["risk_survival"] = -np.log(labels["survival_time"]) + rng.normal(0, 1.2, n)
    pred["n_images"] = 2
    return pred


def _png(title: str) -> bytes:
    from facehealth.report.plots import bar_counts

    return bar_counts({"a": 1, "b": 2}, title)


def make_run(root: Path, seed: int = 0, n: int = 90) -> Path:
    """Write every file a complete run folder has (RUN_LAYOUT.md), small and consistent."""
    from facehealth.evaluate.clinical import evaluate_predictions
    from facehealth.evaluate.metrics import auroc, mae
    from facehealth.evaluate.prognostic import face_age_analysis
    from facehealth.evaluate.subgroups import evaluation_subgroups
    from facehealth.evaluate.survival_report import survival_analysis

    rng = np.random.default_rng(seed)
    subjects, labels, splits = _cohort(rng, n)
    predictions = _predictions(rng, subjects, labels, splits)
    (root / "cohort").mkdir(parents=True)
    subjects.to_csv(root / "cohort/subjects.csv", index=False)
    labels.to_csv(root / "cohort/labels.csv", index=False)
    splits.to_csv(root / "cohort/splits.csv", index=False)
    media = pd.DataFrame(
        {
            "media_id": [f"m{i}" for i in range(2 * n)],
            "subject_id": list(subjects["subject_id"]) * 2,
            "path": [f"media/m{i}.jpg" for i in range(2 * n)],
            "kind": ["image"] * (2 * n - 3) + ["video"] * 3,
        }
    )
    media.to_csv(root / "cohort/media.csv", index=False)
    (root / "cohort/contact_sheet.png").write_bytes(_png("contact sheet"))

    merged = subjects.merge(labels, on="subject_id")
    merged["affective_code"] = merged["affective"].map({c: i for i, c in enumerate(CLASSES)})
    with warnings.catch_warnings():  # tiny splits: degenerate metrics (NaN) and Cox separation are expected
        warnings.simplefilter("ignore")
        metrics = evaluate_predictions(predictions, merged, _tasks(), np.random.default_rng(seed), n_boot=10)
        survival = survival_analysis(
            predictions, labels, subjects, covariates=("age", "sex"), rng=np.random.default_rng(seed), n_boot=10
        )
        prior = subjects[["subject_id"]].assign(
            pred_age=subjects["age"] + np.random.default_rng(seed + 1).normal(0, 6, n)
        )
        survival["face_age"] = face_age_analysis(
            predictions, labels, subjects, rng=np.random.default_rng(seed), n_boot=10, prior=prior, min_val_events=3
        )
        frame = predictions[predictions["split"].isin(("test", "external"))].merge(merged, on="subject_id")
        targets = [("age", "mae", mae, ("age", "pred_age")), ("cad", "auroc", auroc, ("cad", "prob_cad"))]
        subgroups = evaluation_subgroups(frame, targets, ["sex", "age"], np.random.default_rng(seed), 10, 5)
    (root / "evaluate").mkdir()
    subgroups.to_csv(root / "evaluate/subgroups.csv", index=False)
    (root / "evaluate/metrics.json").write_text(json.dumps(metrics | {"model": "finetune/checkpoint-best"}))
    predictions.to_parquet(root / "evaluate/predictions.parquet", index=False)
    (root / "evaluate/survival.json").write_text(json.dumps(survival))

    (root / "cohort_faces").mkdir()
    rejections = {"blur": 4, "no_face": 2, "yaw": 3}
    summary = {
        "items": 2 * n,
        "frames": 2 * n + 30,
        "faces_detected": 2 * n + 20,
        "crops": 2 * n + 11,
        "rejections": rejections,
        "unreadable": 1,
        "ignored_files": 0,
    }
    (root / "cohort_faces/summary.json").write_text(json.dumps(summary))
    pd.DataFrame({"reason": list(rejections), "count": list(rejections.values())}).to_parquet(
        root / "cohort_faces/rejections.parquet"
    )

    (root / "pretrain").mkdir()
    losses = [1.0, 0.8, 0.7, 0.65]
    (root / "pretrain/metrics.jsonl").write_text(
        "".join(json.dumps({"epoch": i + 1, "loss": v, "lr": 1e-3}) + "\n" for i, v in enumerate(losses))
    )
    (root / "pretrain/checkpoint-last.json").write_text(
        json.dumps(
            {
                "version": CHECKPOINT_VERSION,
                "stage": "mae_pretrain",
                "backbone": "vit_tiny_patch16",
                "img_size": 64,
                "epoch": 4,
                "loss": losses[-1],
                "n_images": 2 * n,
            }
        )
    )
    (root / "finetune").mkdir()
    history = [{"epoch": i + 1, "train_loss": 2.0 - 0.3 * i, "val_loss": 2.1 - 0.2 * i} for i in range(5)]
    meta = {
        "version": CHECKPOINT_VERSION,
        "stage": "finetune",
        "backbone": "vit_tiny_patch16",
        "img_size": 64,
        "input": "image",
        "pooling": "mean",
        "best_epoch": 5,
        "history": history,
        "tasks": [t.as_dict() for t in _tasks()],
        "config": {"init_from": "pretrain/checkpoint-last.safetensors"},
    }
    (root / "finetune/checkpoint-best.json").write_text(json.dumps(meta))
    (root / "finetune_affective").mkdir()
    video = meta | {
        "input": "video",
        "pooling": "timebins",
        "frame_input": "landmarks",
        "frames": 16,
        "tasks": meta["tasks"][-1:],
    }
    video["history"] = [{"epoch": i + 1, "train_loss": 1.1 - 0.1 * i, "val_loss": 1.2 - 0.05 * i} for i in range(3)]
    (root / "finetune_affective/checkpoint-best.json").write_text(json.dumps(video))

    (root / "studies").mkdir()
    arms = (("foundation", 0.8), ("vit_scratch", 0.7))

    def study(**kw) -> dict:
        return {"task": "cad", "metric": "auroc", "n_test": 30} | kw

    rows = [study(arm=a, value=v, low=v - 0.1, high=v + 0.08) for a, v in arms]
    rows += [study(arm=a, metric="brier", value=0.2, low=0.15, high=0.25) for a, _ in arms]
    pd.DataFrame(rows).to_csv(root / "studies/baselines.csv", index=False)
    comparison = {"arm": "vit_scratch", "reference": "foundation", "task": "cad", "metric": "auroc"}
    comparison |= {"difference": -0.1, "low": -0.2, "high": 0.0, "p": 0.04, "test": "DeLong"}
    pd.DataFrame([comparison]).to_csv(root / "studies/baselines_comparison.csv", index=False)
    eff = [
        study(arm=a, n=n, seed=s, value=v - 0.1 / n**0.5 + 0.01 * s, low=v - 0.15, high=v + 0.05)
        for a, v in arms
        for n in (10, 20, 40)
        for s in (0, 1)
    ]
    table = pd.DataFrame(eff)
    table.to_csv(root / "studies/label_efficiency.csv", index=False)
    summary = table.groupby(["arm", "n", "task", "metric"], sort=False).agg(
        mean=("value", "mean"), sd=("value", "std"), low=("low", "mean"), high=("high", "mean")
    )
    summary.reset_index().to_csv(root / "studies/label_efficiency_summary.csv", index=False)
    ext = [
        study(arm=a, cohort=c, site=site, value=v - d, low=v - d - 0.1, high=v - d + 0.08)
        for a, v in arms
        for c, site, d in (("internal_test", "", 0.0), ("external", "site_c", 0.05))
    ]
    pd.DataFrame(ext).to_csv(root / "studies/external.csv", index=False)
    levels = (("sex", "all", 0.8), ("sex", "F", 0.78), ("sex", "M", 0.82), ("site", "site_a", 0.79))
    sub = [
        study(arm="foundation", group=g, level=lv, n_subjects=15, value=v, low=v - 0.12, high=v + 0.1)
        | {"heterogeneity_q": 0.4, "heterogeneity_p": 0.5}
        for g, lv, v in levels
    ]
    pd.DataFrame(sub).to_csv(root / "studies/subgroups.csv", index=False)

    (root / "explain").mkdir()
    (root / "explain/gallery_cad.png").write_bytes(_png("saliency"))
    regions = {"target": ["cad", "cad"], "region": ["forehead", "cheeks"], "share": [0.3, 0.4]}
    regions |= {"low": [0.2, 0.3], "high": [0.4, 0.5], "n_subjects": [20, 20]}
    pd.DataFrame(regions).to_csv(root / "explain/regions.csv", index=False)
    pd.DataFrame({"landmark": [1, 2], "p": [0.01, 0.2]}).to_csv(root / "explain/landmark_significance.csv", index=False)
    (root / "robustness").mkdir()
    (root / "robustness/robustness_metrics.png").write_bytes(_png("blur"))
    robust = {"perturbation": ["blur", "blur"], "severity": [1, 2], "task": ["cad", "cad"], "metric": ["auroc"] * 2}
    robust |= {"value": [0.78, 0.7], "agreement": [0.95, 0.8], "agreement_metric": ["icc", "icc"], "n": [30, 30]}
    pd.DataFrame(robust | {"n_rejected": [0, 3]}).to_csv(root / "robustness/robustness.csv", index=False)
    run = {
        "profile": "quick",
        "synthetic": True,
        "started": "2026-01-01T00:00:00",
        "finished": "2026-01-01T00:10:00",
        "machine": "test",
        "stages": {
            "cohort": {"seconds": 1.0, "status": "done", "note": ""},
            "robustness": {"seconds": 0.0, "status": "skipped", "note": "quick profile"},
        },
    }
    (root / "run.json").write_text(json.dumps(run))
    return root


@pytest.fixture(scope="session")
def full_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("run") / "RUN")


@pytest.fixture(scope="session")
def full_report(full_run) -> Path:
    from facehealth.report import build_report

    return build_report(full_run)
