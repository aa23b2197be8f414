from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from facehealth.config import load_config
from facehealth.errors import ConfigError
from facehealth.studies.designs import (
    StudyConfig,
    baseline_table,
    external_validation,
    label_efficiency,
    load_study_data,
    nested_order,
    subgroup_study,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study_cohort(synth_cohort, tmp_path_factory) -> Path:
    """The synthetic cohort's tables with this module's own splits (site_c held out whole)."""
    from facehealth.data.cohort import load_cohort
    from facehealth.data.splits import make_splits, save_splits

    root = tmp_path_factory.mktemp("study") / "cohort"
    root.mkdir()
    for name in ("subjects.csv", "media.csv", "labels.csv", "label_units.csv"):
        shutil.copy(synth_cohort / name, root / name)
    (root / "media").symlink_to(synth_cohort / "media")
    labels = load_cohort(root, check_files=False).subject_labels()
    save_splits(make_splits(labels, 0, stratify="cad", external_sites=["site_c"]), root)
    return root


@pytest.fixture(scope="module")
def features(study_cohort, tmp_path_factory) -> str:
    """Precomputed subject features that carry the labels plus noise (a stand-in for an embedding)."""
    from facehealth.data.cohort import load_cohort

    labels = load_cohort(study_cohort, check_files=False).subject_labels()
    rng = np.random.default_rng(0)
    n = len(labels)
    table = pd.DataFrame({"subject_id": labels["subject_id"]})
    table["f_age"] = labels["age"] + rng.normal(0, 5, n)
    table["f_cad"] = labels["cad"] + rng.normal(0, 0.5, n)
    table["f_surv"] = -np.log(labels["survival_time"]) + rng.normal(0, 0.5, n)
    for k in range(5):
        table[f"noise{k}"] = rng.normal(size=n)
    path = tmp_path_factory.mktemp("features") / "features.parquet"
    table.to_parquet(path, index=False)
    return str(path)


def _tiny(cohort, prepared, out, **kw) -> StudyConfig:
    base = dict(
        cohort=str(cohort),
        prepared=str(prepared),
        out_dir=str(out),
        finetune_config=None,
        finetune={
            "backbone": "vit_tiny_patch16",
            "img_size": 32,
            "epochs": 1,
            "batch_size": 32,
            "augment": False,
            "device": "cpu",
            "optim": {"base_lr": 2e-3, "warmup_epochs": 0.5},
        },
        tasks=("age", "cad", "survival"),
        arms={"vit_scratch": {"init_from": None}, "dlib_linear": {"kind": "descriptor"}},
        reference_arm="vit_scratch",
        label_counts=(20, 40),
        seeds=(0,),
        n_boot=50,
    )
    base.update(kw)
    return StudyConfig(**base)


@pytest.fixture(scope="module")
def efficiency(study_cohort, prepared_synth, features, tmp_path_factory):
    out = tmp_path_factory.mktemp("efficiency")
    calls = []
    arms = {"vit_scratch": {"init_from": None}, "linear": {"kind": "descriptor", "features": features}}
    cfg = _tiny(study_cohort, prepared_synth, out, arms=arms)
    table = label_efficiency(cfg, on_progress=lambda d, t: calls.append((d, t)))
    return table, out, calls


def test_label_efficiency_writes_one_row_per_arm_n_seed_and_target(efficiency):
    table, out, calls = efficiency
    assert list(table.columns) == ["arm", "n", "seed", "task", "metric", "value", "low", "high", "n_test"]
    assert len(table) == 2 * 2 * 1 * 3  # arms x counts x seeds x targets (primary metric only)
    assert set(zip(table["task"], table["metric"])) == {("age", "mae"), ("cad", "auroc"), ("survival", "c_index")}
    on_disk = pd.read_csv(out / "label_efficiency.csv")
    assert list(on_disk.columns) == list(table.columns) and len(on_disk) == len(table)
    finite = table.dropna(subset=["value"])
    assert (finite["low"] <= finite["value"] + 1e-9).all() and (finite["value"] <= finite["high"] + 1e-9).all()
    assert table.loc[table["task"] == "age", "value"].notna().all()  # every arm predicts age
    linear_age = table[(table["arm"] == "linear") & (table["task"] == "age")].set_index("n")["value"]
    assert linear_age[40] < 12  # the linear heads learn from the label-carrying features
    assert calls[-1] == (4, 4)
    summary = pd.read_csv(out / "label_efficiency_summary.csv")
    assert {"mean", "sd", "low", "high", "ci", "seeds", "n_available", "n_labelled"} <= set(summary.columns)
    assert len(summary) == 12 and (summary["n_labelled"] == summary["n"] + summary["n_val"]).all()
    assert (out / "label_efficiency.png").stat().st_size > 5000
    info = json.loads((out / "label_efficiency.json").read_text())
    assert info["used"] == [20, 40] and info["capped"] == []


def test_label_subsets_are_nested_training_subjects_and_test_is_shared(efficiency, study_cohort):
    _, out, _ = efficiency
    splits = pd.read_csv(study_cohort / "splits.csv", dtype={"subject_id": str})
    subsets = pd.read_csv(out / "label_efficiency_subjects.csv", dtype={"subject_id": str})
    small = set(subsets.loc[subsets["n"] == 20, "subject_id"])
    large = set(subsets.loc[subsets["n"] == 40, "subject_id"])
    assert len(small) == 20 and len(large) == 40 and small < large
    train = set(splits.loc[splits["split"] == "train", "subject_id"])
    test = set(splits.loc[splits["split"] == "test", "subject_id"])
    assert large <= train and not large & test
    pred = pd.read_parquet(out / "label_efficiency_predictions.parquet")
    assert set(pred["split"]) == {"test"}
    scored = {key: frozenset(part["subject_id"]) for key, part in pred.groupby(["arm", "n"])}
    assert len(scored) == 4 and len(set(scored.values())) == 1  # identical test subjects everywhere
    assert next(iter(scored.values())) <= test and not next(iter(scored.values())) & large
    # The fine-tune arm really trained on the subset: its private splits.csv has exactly those subjects.
    arm_splits = pd.read_csv(out / "runs" / "vit_scratch" / "n20_seed0" / "cohort" / "splits.csv", dtype=str)
    assert set(arm_splits.loc[arm_splits["split"] == "train", "subject_id"]) == small
    assert set(arm_splits.loc[arm_splits["split"] == "test", "subject_id"]) == test
    run = out / "runs" / "vit_scratch" / "n20_seed0"
    assert (run / "checkpoint-best.json").is_file() and not (run / "checkpoint-best.safetensors").exists()


def test_nested_order_keeps_strata_shares_in_every_prefix():
    train = pd.DataFrame({"subject_id": [f"s{i}" for i in range(200)], "cad": [1] * 40 + [0] * 160})
    a, b = nested_order(train, "cad", 0), nested_order(train, "cad", 1)
    assert sorted(a) == sorted(train["subject_id"]) and a != b
    positive = set(train.loc[train["cad"] == 1, "subject_id"])
    for n in (10, 25, 50, 100):
        assert abs(sum(s in positive for s in a[:n]) - 0.2 * n) <= 1


def test_label_counts_beyond_the_training_set_are_capped(study_cohort, tmp_path):
    def cheap(train_ids, work, seed):  # an arm that predicts the training mean age
        data = load_study_data(cfg)
        mean = data.labels.set_index("subject_id").loc[train_ids, "age"].mean()
        return pd.DataFrame({"subject_id": data.labels["subject_id"], "pred_age": mean})

    cfg = _tiny(study_cohort, "unused", tmp_path, tasks=("age",), label_counts=(10, 5000), seeds=(0, 1))
    n_train = len(load_study_data(cfg).ids("train"))
    with pytest.warns(UserWarning, match="capped"):
        table = label_efficiency(cfg, arms={"mean": cheap})
    assert sorted(table["n"].unique()) == [10, n_train] and len(table) == 2 * 2
    assert table.attrs["capped"] == [5000]
    summary = pd.read_csv(tmp_path / "label_efficiency_summary.csv")
    assert (summary["seeds"] == 2).all() and summary["sd"].notna().all()


def test_external_validation_reports_each_external_site_separately(study_cohort, prepared_synth, features, tmp_path):
    arms = {"linear": {"kind": "descriptor", "features": features}}
    result = external_validation(_tiny(study_cohort, prepared_synth, tmp_path, arms=arms))
    entry = result["arms"]["linear"]
    assert set(entry["external"]) == {"site_c"}
    assert {r["task"] for r in entry["internal_test"]} == {"age", "cad", "survival"}
    table = pd.read_csv(tmp_path / "external.csv")
    assert set(table["cohort"]) == {"internal_test", "external"}
    splits = pd.read_csv(study_cohort / "splits.csv")
    n_ext = int((splits["split"] == "external").sum())
    ext_age = table[(table["cohort"] == "external") & (table["task"] == "age") & (table["metric"] == "mae")]
    assert ext_age["site"].tolist() == ["site_c"] and 0 < ext_age["n_test"].item() <= n_ext
    assert json.loads((tmp_path / "external.json").read_text())["arms"]["linear"]["external"]["site_c"]
    # The features carry the labels, so the linear heads must do far better than chance everywhere.
    values = table.set_index(["cohort", "task", "metric"])["value"]
    assert values["external", "age", "mae"] < 10 and values["external", "cad", "auroc"] > 0.7
    assert values["internal_test", "survival", "c_index"] > 0.65


def test_external_validation_needs_an_external_split(study_cohort, tmp_path):
    root = tmp_path / "cohort"
    shutil.copytree(study_cohort, root, symlinks=True)
    splits = pd.read_csv(root / "splits.csv")
    splits.loc[splits["split"] == "external", "split"] = "train"
    splits.to_csv(root / "splits.csv", index=False)
    with pytest.raises(ConfigError, match="external"):
        external_validation(_tiny(root, "unused", tmp_path / "out", arms={"x": {"kind": "descriptor"}}))


def _oracle_arms(cfg, noise):
    """Cheap arms: the true labels plus noise of a given size (more noise = a worse model)."""

    def make(scale):
        def arm(train_ids, work, seed):
            labels = load_study_data(cfg).labels
            rng = np.random.default_rng(seed)
            n = len(labels)
            return pd.DataFrame(
                {
                    "subject_id": labels["subject_id"],
                    "pred_age": labels["age"] + rng.normal(0, 30 * scale, n),
                    "prob_cad": np.clip(labels["cad"] * 0.6 + rng.normal(0.2, scale, n), 0, 1),
                    "risk_survival": -labels["survival_time"] + rng.normal(0, 10 * scale, n),
                }
            )

        return arm

    return {name: make(scale) for name, scale in noise.items()}


def test_baseline_table_compares_every_arm_with_the_reference(study_cohort, tmp_path):
    cfg = _tiny(study_cohort, "unused", tmp_path, reference_arm="good")
    table = baseline_table(cfg, arms=_oracle_arms(cfg, {"good": 0.05, "noisy": 1.0}))
    assert list(table.columns) == ["arm", "task", "metric", "value", "low", "high", "n_test"]
    assert len(table) == 2 * (3 + 3 + 1)  # arms x (age: mae r r2; cad: auroc auprc brier; c_index)
    comparison = pd.read_csv(tmp_path / "baselines_comparison.csv")
    assert set(comparison["arm"]) == {"noisy"} and len(comparison) == 7
    auroc = comparison[comparison["metric"] == "auroc"].iloc[0]
    assert auroc["method"] == "DeLong" and auroc["difference"] < 0 and auroc["high"] < 0
    mae = comparison[comparison["metric"] == "mae"].iloc[0]
    assert mae["method"] == "paired bootstrap" and mae["low"] > 0  # the noisy arm's error is larger
    value = table.set_index(["arm", "task", "metric"])["value"]
    assert mae["difference"] == pytest.approx(value["noisy", "age", "mae"] - value["good", "age", "mae"])


def test_full_training_runs_are_reused_across_studies_only_when_nothing_changed(study_cohort, tmp_path):
    from facehealth.studies.arms import Arm

    cfg = _tiny(study_cohort, "unused", tmp_path, tasks=("age",), reference_arm="counted")
    oracle = _oracle_arms(cfg, {"o": 0.1})["o"]
    calls = []

    def counted(train_ids, work, seed):
        calls.append(len(train_ids))
        return oracle(train_ids, work, seed)

    arms = {"counted": Arm("counted", counted, fingerprint="v1")}
    baseline_table(cfg, arms=arms)
    subgroup_study(cfg, arms=arms)
    assert len(calls) == 1  # the second study reused the first one's predictions
    n_train = len(load_study_data(cfg).ids("train"))
    with pytest.warns(UserWarning, match="capped"):
        label_efficiency(replace(cfg, label_counts=(10, 10_000)), arms=arms)
    assert calls == [n_train, 10]  # label efficiency's "all subjects" run is the full-training run
    baseline_table(cfg, arms={"counted": Arm("counted", counted, fingerprint="v2")})
    baseline_table(cfg, arms={"counted": counted})  # a plain function has no fingerprint: always runs
    assert len(calls) == 4


# Small subgroups of a 1-epoch model: some have no events (C undefined), which is reported as NaN.
@pytest.mark.filterwarnings("ignore::facehealth.evaluate.metrics.DegenerateMetricWarning")
def test_subgroup_study_writes_forest_rows_for_age_sex_and_site(study_cohort, tmp_path):
    cfg = _tiny(study_cohort, "unused", tmp_path, reference_arm="good", min_subgroup=3)
    table = subgroup_study(cfg, arms=_oracle_arms(cfg, {"good": 0.1}))
    assert set(table["group"]) == {"age", "sex", "site"}
    assert {"site_a", "site_b", "site_c"} <= set(table.loc[table["group"] == "site", "level"])
    assert set(table.loc[table["group"] == "sex", "level"]) == {"all", "F", "M"}
    assert set(table["task"]) == {"age", "cad", "survival"} and (tmp_path / "subgroups.png").stat().st_size > 5000
    ok = table.dropna(subset=["value"])
    assert (ok["low"] <= ok["value"] + 1e-9).all()
    # Any cohort column: numeric ones are binned (BMI by quartile), an absent one is a clear error.
    bmi = subgroup_study(replace(cfg, subgroups=("bmi",)), arms=_oracle_arms(cfg, {"good": 0.1}))
    assert set(bmi["group"]) == {"bmi"} and len(set(bmi["level"]) - {"all"}) == 4
    with pytest.raises(ConfigError, match="stage"):
        subgroup_study(replace(cfg, subgroups=("stage",)), arms=_oracle_arms(cfg, {"good": 0.1}))


def test_study_config_loads_from_yaml_and_rejects_bad_arms(tmp_path):
    cfg = load_config(StudyConfig, REPO / "configs" / "study.yaml")
    assert cfg.reference_arm in cfg.arms and cfg.primary("cad") == "auroc"
    with pytest.raises(ConfigError, match="kind"):
        load_config(StudyConfig, overrides={"arms": {"x": {"kind": "magic"}}})
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(StudyConfig, overrides={"arms": {"x": {"backbon": "resnet18"}}})
    with pytest.raises(ConfigError, match="primary_metric"):
        load_config(StudyConfig, overrides={"primary_metric": {"cad": "mae"}})


@pytest.mark.slow
def test_dlib_descriptor_arm_learns_age_in_label_efficiency_and_external(study_cohort, prepared_synth, tmp_path):
    arms = {"dlib_linear": {"kind": "descriptor"}}
    cfg = _tiny(study_cohort, prepared_synth, tmp_path, arms=arms, label_counts=(20, 60), reference_arm="dlib_linear")
    table = label_efficiency(cfg)
    assert table["value"].notna().all() and len(table) == 2 * 3
    cached = tmp_path / "cache" / "dlib_descriptors.parquet"
    assert cached.is_file() and pd.read_parquet(cached).shape[1] == 129
    result = external_validation(cfg)  # reuses the cached descriptors
    ext = pd.DataFrame(result["arms"]["dlib_linear"]["external"]["site_c"]).set_index(["task", "metric"])["value"]
    assert ext["age", "pearson_r"] > 0.3  # synthetic age is visible in the face


def test_build_arms_checks_the_foundation_checkpoint_and_study_owned_keys(study_cohort, tmp_path):
    from facehealth.studies.arms import finetune_arm
    from facehealth.studies.designs import build_arms

    cfg = _tiny(
        study_cohort, "unused", tmp_path, arms={"foundation": {"init_from": str(tmp_path / "none.safetensors")}}
    )
    with pytest.raises(ConfigError, match="foundation.*init_from checkpoint not found"):
        build_arms(cfg, load_study_data(cfg))
    with pytest.raises(ConfigError, match="set by the study"):
        finetune_arm("x", None, {"seed": 3}, study_cohort, load_study_data(cfg).splits)
