"""Study designs: label efficiency, external validation, baselines on identical splits, subgroups.

Every study trains *arms* (:mod:`facehealth.studies.arms`: the foundation model, a ViT
from scratch, CNN/Swin baselines, the dlib-descriptor linear baseline, or any function
``(train_ids, work_dir, seed) -> predictions``) on training subjects only, and scores the
same test subjects for every arm with a subject-bootstrap CI
(:func:`facehealth.evaluate.bootstrap.bootstrap_ci`). Splits come from the cohort's
``splits.csv`` (``facehealth cohort split``) and are never changed by a study.

- :func:`label_efficiency`: FaceFound's and FAHR-Face's "how many labels does it take" curve:
  n labelled training subjects (nested: for one seed the n=50 set lies inside the n=100 set),
  several seeds, metric vs n per arm.
- :func:`external_validation`: train on the internal sites, score the internal test split and
  each held-out site separately (TRIPOD type 3/4 external validation).
- :func:`baseline_table`: every arm on the full training set, with paired differences to the
  reference (foundation) arm: DeLong for AUROC, paired subject bootstrap for the rest.
- :func:`subgroup_study`: primary metrics by age band, sex and site, with Cochran's Q.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facehealth.config import save_resolved
from facehealth.data.splits import load_splits, make_splits, stratify_labels
from facehealth.errors import ConfigError, SchemaError
from facehealth.evaluate.subgroups import subgroup_levels, subgroup_table
from facehealth.models.tasks import TaskSpec, build_tasks, is_output_column
from facehealth.studies.arms import Arm, descriptor_arm, finetune_arm, merge_overrides
from facehealth.studies.config import StudyConfig
from facehealth.studies.metrics import METRICS, metric_rows, paired_difference, seed_summary, targets_of
from facehealth.studies.plots import plot_forest, plot_label_efficiency

__all__ = [
    "StudyConfig",
    "StudyData",
    "load_study_data",
    "build_arms",
    "nested_order",
    "label_efficiency",
    "external_validation",
    "baseline_table",
    "subgroup_study",
]

ArmFn = Callable[[list[str], Path, int], pd.DataFrame]


@dataclass(frozen=True, eq=False)
class StudyData:
    """Subject labels (one row per subject), the fixed splits and the task heads."""

    labels: pd.DataFrame
    splits: pd.DataFrame  # subject_id, site, split
    tasks: list[TaskSpec]

    def ids(self, split: str) -> list[str]:
        return self.splits.loc[self.splits["split"] == split, "subject_id"].tolist()


def load_study_data(cfg: StudyConfig) -> StudyData:
    """Labels, splits (the cohort's ``splits.csv``, or made by subject when absent) and tasks."""
    from facehealth.data.cohort import load_cohort
    from facehealth.data.labels import subject_labels_with_codes

    labels = subject_labels_with_codes(load_cohort(cfg.cohort, check_files=False))
    try:
        splits = load_splits(Path(cfg.cohort))
    except SchemaError:
        splits = make_splits(labels, cfg.split_seed, stratify=cfg.stratify, external_sites=cfg.external_sites)
    splits = splits.drop(columns="site", errors="ignore").merge(labels[["subject_id", "site"]], on="subject_id")
    return StudyData(labels, splits[["subject_id", "site", "split"]], build_tasks(cfg.tasks, labels, cfg.biomarkers))


def build_arms(cfg: StudyConfig, data: StudyData) -> dict[str, Arm]:
    """The arms ``cfg.arms`` names, ready to run (fine-tune configs are resolved and checked now)."""
    arms: dict[str, Arm] = {}
    for name, spec in cfg.arms.items():
        spec = dict(spec or {})
        if spec.pop("kind", "finetune") == "descriptor":
            cache = Path(cfg.descriptor_cache or Path(cfg.out_dir) / "cache" / "dlib_descriptors.parquet")
            arms[name] = descriptor_arm(
                name, cfg.prepared, data.labels, data.tasks, cache, val_ids=data.ids("val"), **spec
            )
        else:
            fixed = {"prepared": cfg.prepared, "tasks": list(cfg.tasks), "biomarkers": list(cfg.biomarkers)}
            overrides = merge_overrides(merge_overrides(cfg.finetune, spec), fixed)
            arms[name] = finetune_arm(
                name, cfg.finetune_config, overrides, cfg.cohort, data.splits, cfg.keep_checkpoints
            )
    return arms


def nested_order(train: pd.DataFrame, stratify: str | None, seed: int) -> list[str]:
    """Training subjects in a seed-specific order whose every prefix keeps the strata's shares.

    Taking the first n subjects gives nested subsets (n=50 lies inside n=100 for one seed).
    Within each stratum the subjects are shuffled and spread evenly over [0, 1) (rank + jitter
    over the stratum's size); sorting on that key interleaves the strata proportionally, so a
    prefix of any length is stratified up to one subject per stratum. Without a usable
    stratification column it is a plain permutation.
    """
    rng = np.random.default_rng(seed)
    strata = stratify_labels(train.reset_index(drop=True), stratify)
    strata = np.zeros(len(train), int) if strata is None else strata
    key = np.empty(len(train))
    for level in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == level))
        key[members] = (np.arange(len(members)) + rng.uniform(size=len(members))) / len(members)
    return train["subject_id"].to_numpy()[np.argsort(key, kind="stable")].tolist()


def _run_arm(name: str, arm: ArmFn, train_ids: Sequence[str], work: Path, seed: int, data: StudyData) -> pd.DataFrame:
    """Run one arm, reusing an earlier run in ``work`` when recipe, seed, subjects, splits and labels match."""
    fingerprint = getattr(arm, "fingerprint", None)
    tables = [int(pd.util.hash_pandas_object(t, index=False).sum()) for t in (data.splits, data.labels)]
    key = hashlib.sha256(json.dumps([fingerprint, seed, sorted(train_ids), tables]).encode()).hexdigest()
    done, key_file = work / "arm_predictions.parquet", work / "arm_key.txt"
    if fingerprint and done.is_file() and key_file.is_file() and key_file.read_text() == key:
        return pd.read_parquet(done)
    work.mkdir(parents=True, exist_ok=True)
    pred = arm(list(train_ids), work, seed)
    if "subject_id" not in pred.columns or pred["subject_id"].duplicated().any():
        raise SchemaError(f"arm '{name}' must return one row per subject with a subject_id column")
    pred = pred.drop(columns=["split"], errors="ignore").assign(subject_id=lambda f: f["subject_id"].astype(str))
    pred.to_parquet(done, index=False)
    key_file.write_text(key)
    return pred


def _on(pred: pd.DataFrame, data: StudyData, ids: Sequence[str]) -> pd.DataFrame:
    """Predictions of subjects ``ids`` joined with their labels and split/site."""
    rows = pred[pred["subject_id"].isin(set(ids))]
    return rows.merge(data.splits, on="subject_id").merge(
        data.labels.drop(columns="site"), on="subject_id", suffixes=("", "_label")
    )


def label_efficiency(
    cfg: StudyConfig,
    on_progress: Callable[[int, int], None] | None = None,
    arms: Mapping[str, ArmFn] | None = None,
) -> pd.DataFrame:
    """Primary metric (with CI) on the test split vs the number of labelled training subjects.

    Label counts above the available training subjects are capped at that number (each
    distinct count runs once) and reported in ``label_efficiency.json`` and a warning.

    Writes into ``cfg.out_dir``: ``label_efficiency.csv`` (arm, n, seed, task, metric, value,
    low, high, n_test), ``label_efficiency_summary.csv`` (mean and sd across seeds),
    ``label_efficiency_subjects.csv`` (seed, n, subject_id of every training subset),
    ``label_efficiency_predictions.parquet`` (test predictions of every run),
    ``label_efficiency.json`` and ``label_efficiency.png``.
    """
    data = load_study_data(cfg)
    arms = dict(arms) if arms is not None else build_arms(cfg, data)
    out = Path(cfg.out_dir)
    save_resolved(cfg, out, "study.resolved.yaml")
    train = data.labels[data.labels["subject_id"].isin(data.ids("train"))]
    test_ids = data.ids("test")
    if not test_ids or train.empty:
        raise SchemaError("label efficiency needs training and test subjects in the splits")
    counts = sorted({min(n, len(train)) for n in cfg.label_counts})
    capped = sorted(n for n in cfg.label_counts if n > len(train))
    if capped:
        warnings.warn(f"label counts {capped} exceed the {len(train)} training subjects; capped", stacklevel=2)
    targets = targets_of(data.tasks)
    rows, subsets, predictions = [], [], []
    scored_by: dict[tuple[str, int], dict[int, pd.DataFrame]] = {}
    total, done = len(cfg.seeds) * len(counts) * len(arms), 0
    for seed in cfg.seeds:
        order = nested_order(train, cfg.stratify, seed)
        for n in counts:
            ids = order[:n]
            subsets.append(pd.DataFrame({"seed": seed, "n": n, "subject_id": ids}))
            for name, arm in arms.items():
                pred = _run_arm(name, arm, ids, out / "runs" / name / f"n{n}_seed{seed}", seed, data)
                scored = _on(pred, data, test_ids)
                scored_by.setdefault((name, n), {})[seed] = scored
                rng = np.random.default_rng([seed, n])  # the same resamples for every arm
                for row in metric_rows(scored, targets, lambda t: [cfg.primary(t.task)], rng, cfg.n_boot):
                    rows.append({"arm": name, "n": n, "seed": seed, **row})
                cols = ["subject_id", "split"] + [c for c in pred.columns if is_output_column(c)]
                predictions.append(scored[cols].assign(arm=name, n=n, seed=seed))
                done += 1
                if on_progress:
                    on_progress(done, total)
    table = pd.DataFrame(rows, columns=["arm", "n", "seed", "task", "metric", "value", "low", "high", "n_test"])
    table.to_csv(out / "label_efficiency.csv", index=False)
    summary = seed_summary(table, scored_by, targets, lambda t: [cfg.primary(t.task)], cfg.n_boot)
    # The validation split chose each run's stopping epoch and head penalty: its labels count too.
    summary["n_val"] = len(data.ids("val"))
    summary["n_labelled"] = summary["n"] + summary["n_val"]
    summary["n_available"] = len(train)
    summary.to_csv(out / "label_efficiency_summary.csv", index=False)
    pd.concat(subsets).to_csv(out / "label_efficiency_subjects.csv", index=False)
    pd.concat(predictions).to_parquet(out / "label_efficiency_predictions.parquet", index=False)
    info = {
        "requested": list(cfg.label_counts),
        "used": counts,
        "capped": capped,
        "n_train_available": len(train),
        "n_test": len(test_ids),
        "seeds": list(cfg.seeds),
        "arms": list(arms),
        "n_boot": cfg.n_boot,
    }
    (out / "label_efficiency.json").write_text(json.dumps(info, indent=2))
    plot_label_efficiency(summary, out / "label_efficiency.png")
    table.attrs.update(info)
    return table


def _full_training(cfg: StudyConfig, data: StudyData, arms: Mapping[str, ArmFn]) -> dict[str, pd.DataFrame]:
    """Each arm trained once on every training subject (shared by the external, baseline and subgroup studies).

    The run folder is the one label efficiency uses for n = all training subjects and the first
    seed, so a study that ran label efficiency first reuses that run instead of repeating it.
    """
    seed, ids = cfg.seeds[0], data.ids("train")
    return {
        name: _run_arm(name, arm, ids, Path(cfg.out_dir) / "runs" / name / f"n{len(ids)}_seed{seed}", seed, data)
        for name, arm in arms.items()
    }


def external_validation(cfg: StudyConfig, arms: Mapping[str, ArmFn] | None = None) -> dict:
    """Train on the internal sites; score the internal test split and each external site separately.

    Writes ``external.json`` (``{"arms": {arm: {"internal_test": rows, "external": {site: rows}}}}``)
    and ``external.csv`` (arm, cohort, site, task, metric, value, low, high, n_test), where
    cohort is ``internal_test`` or ``external``. Raises :class:`ConfigError` when the splits hold no
    external subjects (``facehealth cohort split --external-site ...``).
    """
    data = load_study_data(cfg)
    external = data.splits[data.splits["split"] == "external"]
    if external.empty:
        raise ConfigError("no external subjects in splits.csv; hold a site out with `cohort split --external-site`")
    arms = dict(arms) if arms is not None else build_arms(cfg, data)
    out = Path(cfg.out_dir)
    save_resolved(cfg, out, "study.resolved.yaml")
    targets = targets_of(data.tasks)
    result: dict = {"n_boot": cfg.n_boot, "train_subjects": len(data.ids("train")), "arms": {}}
    rows = []
    for name, pred in _full_training(cfg, data, arms).items():
        cohorts = [("internal_test", "internal", data.ids("test"))]
        cohorts += [("external", site, part["subject_id"].tolist()) for site, part in external.groupby("site")]
        entry: dict = {"internal_test": [], "external": {}}
        for cohort, site, ids in cohorts:
            rng = np.random.default_rng(cfg.seeds[0])
            found = metric_rows(_on(pred, data, ids), targets, lambda t: list(METRICS[t.kind]), rng, cfg.n_boot)
            (entry["internal_test"] if cohort == "internal_test" else entry["external"].setdefault(site, [])).extend(
                found
            )
            rows += [{"arm": name, "cohort": cohort, "site": site, **r} for r in found]
        result["arms"][name] = entry
    (out / "external.json").write_text(json.dumps(result, indent=2, default=float))
    table = pd.DataFrame(rows)
    table.to_csv(out / "external.csv", index=False)
    result["table"] = table
    return result


def baseline_table(cfg: StudyConfig, arms: Mapping[str, ArmFn] | None = None) -> pd.DataFrame:
    """Every arm trained on the full training split, scored on the same test subjects.

    Writes ``baselines.csv`` (arm, task, metric, value, low, high, n_test) and
    ``baselines_comparison.csv`` (arm, reference, task, metric, difference = arm - reference,
    low, high, p, method, n_test) against ``cfg.reference_arm`` when it is one of the arms.
    """
    data = load_study_data(cfg)
    arms = dict(arms) if arms is not None else build_arms(cfg, data)
    out = Path(cfg.out_dir)
    save_resolved(cfg, out, "study.resolved.yaml")
    targets, test_ids = targets_of(data.tasks), data.ids("test")
    full = _full_training(cfg, data, arms)
    scored = {name: _on(pred, data, test_ids) for name, pred in full.items()}
    rows = []
    for name, frame in scored.items():
        rng = np.random.default_rng(cfg.seeds[0])
        rows += [
            {"arm": name, **r} for r in metric_rows(frame, targets, lambda t: list(METRICS[t.kind]), rng, cfg.n_boot)
        ]
    table = pd.DataFrame(rows)
    table.to_csv(out / "baselines.csv", index=False)
    comparisons = []
    if cfg.reference_arm in scored:
        ref = scored[cfg.reference_arm]
        for name, frame in scored.items():
            if name == cfg.reference_arm:
                continue
            for t in targets:
                outputs = [c for c in t.columns if t.is_output(c)]
                if not set(t.columns) <= set(frame.columns) or not set(outputs) <= set(ref.columns):
                    continue  # one of the two arms does not predict this target
                both = frame[["subject_id", *t.columns]].merge(
                    ref[["subject_id", *outputs]], on="subject_id", suffixes=("_arm", "_ref")
                )
                for metric in METRICS[t.kind]:
                    rng = np.random.default_rng(cfg.seeds[0])
                    diff = paired_difference(t, metric, both, rng, cfg.n_boot)
                    comparisons.append(
                        {
                            "arm": name,
                            "reference": cfg.reference_arm,
                            "task": t.name,
                            "metric": metric,
                            **diff,
                            "n_test": len(both),
                        }
                    )
    else:
        warnings.warn(f"reference arm '{cfg.reference_arm}' not run; no paired comparison", stacklevel=2)
    comparison = pd.DataFrame(comparisons)
    comparison.to_csv(out / "baselines_comparison.csv", index=False)
    table.attrs["comparison"] = comparison
    return table


def subgroup_study(cfg: StudyConfig, arms: Mapping[str, ArmFn] | None = None) -> pd.DataFrame:
    """Primary metric with CI by each of ``cfg.subgroups`` (default age band, sex, site), for every arm.

    Subjects: those in ``cfg.subgroup_splits`` (default test + external, so site contrasts
    include the held-out site). Writes ``subgroups.csv`` (arm, task, metric, group, level,
    n_subjects, value, low, high, heterogeneity_q, heterogeneity_p) and ``subgroups.png``.
    """
    data = load_study_data(cfg)
    arms = dict(arms) if arms is not None else build_arms(cfg, data)
    out = Path(cfg.out_dir)
    save_resolved(cfg, out, "study.resolved.yaml")
    ids = data.splits.loc[data.splits["split"].isin(cfg.subgroup_splits), "subject_id"]
    tables = []
    for name, pred in _full_training(cfg, data, arms).items():
        frame = _on(pred, data, ids)
        missing = [c for c in cfg.subgroups if c not in frame.columns]
        if missing:
            raise ConfigError(f"subgroups {missing} are not cohort columns; available: {sorted(frame.columns)}")
        for column in cfg.subgroups:  # binned numeric columns; subjects without a value are a level of their own
            frame[f"level:{column}"] = subgroup_levels(frame[column], cfg.age_bands).fillna("missing")
        for t in targets_of(data.tasks):
            metric = cfg.primary(t.task)
            part = frame.dropna(subset=list(t.columns))
            for by in cfg.subgroups:
                rng = np.random.default_rng(cfg.seeds[0])
                sub = subgroup_table(
                    part,
                    f"level:{by}",
                    METRICS[t.kind][metric],
                    t.columns,
                    rng,
                    n_boot=cfg.n_boot,
                    min_subjects=cfg.min_subgroup,
                )
                sub = sub.assign(arm=name, task=t.name, metric=metric, group=by)
                sub["heterogeneity_q"], sub["heterogeneity_p"] = (
                    sub.attrs["heterogeneity_q"],
                    sub.attrs["heterogeneity_p"],
                )
                tables.append(sub)
    order = [
        "arm",
        "task",
        "metric",
        "group",
        "level",
        "n_subjects",
        "value",
        "low",
        "high",
        "heterogeneity_q",
        "heterogeneity_p",
    ]
    table = pd.concat(tables, ignore_index=True)[order]
    table.to_csv(out / "subgroups.csv", index=False)
    plot_forest(table, out / "subgroups.png")
    return table
