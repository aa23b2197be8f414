"""Explain a fine-tuned checkpoint on a cohort: galleries, region shares with CIs, task comparisons.

Output folder::

    gallery_<target>.png   overlays on the first photo of up to ``gallery`` subjects
    regions.csv            target, region, share, low, high, density, density_low, density_high, n_subjects
    regions_heatmap.png    region x target: mean share (left) and density (right, the ranking measure)
    comparisons.csv        target_a, target_b, statistic, p_value, n_subjects (paired permutation test)
    explain.json           the settings used, the subjects drawn and each target's region ranking

A *target* is ``task`` for a one-output head (binary, cox) or ``task:label`` for
a regression column or a multiclass class (``biomarkers:haemoglobin``, ``affective:MDD``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from facehealth.errors import ConfigError, SchemaError
from facehealth.explain.overlay import grid, overlay, save_png
from facehealth.explain.regions import (
    REGIONS,
    RegionAttribution,
    aggregate_regions,
    compare_tasks,
    landmarks_to_crop,
    region_attribution,
)
from facehealth.explain.saliency import Baseline, Method, require_pixel_model, saliency, target_names, to_model_input

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ExplainResult", "explain_cohort", "resolve_targets"]


@dataclass(frozen=True)
class ExplainResult:
    out_dir: Path
    regions_csv: Path
    heatmap: Path
    comparisons_csv: Path
    galleries: dict[str, Path] = field(default_factory=dict)
    n_subjects: int = 0
    n_images: int = 0


def resolve_targets(model: nn.Module, tasks: list[str] | tuple[str, ...] | None) -> list[tuple[str, int, str]]:
    """``["cad", "biomarkers:haemoglobin", "affective"]`` -> (task, index, target label) triples.

    A bare task name expands to all its outputs; ``None`` means every output of every head.

    Args:
        model: a :class:`~facehealth.models.multitask.MultiTaskModel`.
        tasks: task names or ``task:label`` targets; ``None`` or empty = all.
    """
    available = target_names(model)
    label = {(t, i): (t if lab == t else f"{t}:{lab}") for t, i, lab in available}
    if not tasks:
        return [(t, i, label[t, i]) for t, i, _ in available]
    out = []
    for item in tasks:
        name, _, sub = item.partition(":")
        hits = [(t, i, label[t, i]) for t, i, lab in available if t == name and (not sub or lab == sub)]
        if not hits:
            choices = ", ".join(label[t, i] for t, i, _ in available)
            raise ConfigError(f"unknown target '{item}'; this model has {choices}")
        out.extend(hits)
    return out


def explain_cohort(
    checkpoint: str | Path,
    prepared_dir: str | Path,
    out_dir: str | Path,
    tasks: list[str] | tuple[str, ...] | None = None,
    n_subjects: int = 32,
    method: Method = "gradcam",
    *,
    split: str | None = "test",
    cohort: str | Path | None = None,
    gallery: int = 8,
    baseline: Baseline = "black",
    steps: int = 32,
    n_boot: int = 1000,
    seed: int = 0,
    device: str = "cpu",
) -> ExplainResult:
    """Saliency of each target on the photos of ``n_subjects`` subjects, summarised by facial region.

    Args:
        checkpoint: a fine-tuned ``checkpoint-best.safetensors``.
        prepared_dir: the ``faces prepare`` folder (manifest.parquet + crops).
        out_dir: where the PNGs and tables go.
        tasks: targets (see :func:`resolve_targets`); ``None`` = every output of every head.
        n_subjects: subjects drawn (seeded) from ``split``; all their photos are explained.
        method: ``gradcam``, ``rollout`` (ViT; one map for all targets) or ``ig``.
        split: subjects of this split in the cohort's splits.csv (cohort = ``cohort`` or the one
            recorded in the checkpoint); ``None``, or no split table, uses every subject in the folder.
        gallery: subjects shown per gallery.
        baseline, steps: integrated-gradients settings.
        n_boot: bootstrap resamples (over subjects) for the region CIs.
    """
    from facehealth.data.datasets import load_crop
    from facehealth.models.predictor import model_from_checkpoint

    model, meta = model_from_checkpoint(checkpoint)
    require_pixel_model(model, str(checkpoint))
    model = model.to(device)
    size = meta.img_size
    targets = resolve_targets(model, tasks)
    rng = np.random.default_rng(seed)
    rows = _select_rows(Path(prepared_dir), split, cohort or meta.config.get("cohort"), n_subjects, rng)
    crops = [load_crop(Path(prepared_dir) / p) for p in rows["crop_path"]]
    landmarks = [
        landmarks_to_crop(np.asarray(lm).reshape(68, 2), np.asarray(m))
        for lm, m in zip(rows["landmarks"], rows["matrix"])
    ]
    subjects = rows["subject_id"].astype(str).to_numpy()
    first_photo = np.flatnonzero(~pd.Series(subjects).duplicated().to_numpy())[:gallery]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    attributions: dict[str, list[RegionAttribution]] = {}
    galleries: dict[str, Path] = {}
    empty: dict[str, int] = {}
    cached: np.ndarray | None = None  # rollout ignores the target: one set of maps serves all
    for task, index, label in targets:
        if cached is None:
            maps = []
            for start in range(0, len(crops), 16):
                x = to_model_input(crops[start : start + 16], size).to(device)
                maps.append(saliency(model, x, task, index, method, baseline=baseline, steps=steps))
            maps = np.concatenate(maps)
            cached = maps if method == "rollout" else None
        else:
            maps = cached
        # An all-zero map (Grad-CAM whose weighted sum is negative everywhere) has no shares: NaN, counted.
        empty[label] = int((maps.reshape(len(maps), -1).max(1) <= 0).sum())
        attributions[label] = [
            region_attribution(m, lm, crop_size=crop.shape[0]) for m, lm, crop in zip(maps, landmarks, crops)
        ]
        tiles = [overlay(crops[k], maps[k]) for k in first_photo]
        sheet = grid(tiles, columns=min(4, len(tiles)), labels=[f"{subjects[k]} {label}" for k in first_photo])
        galleries[label] = save_png(out / f"gallery_{_safe(label)}.png", sheet)

    table = _region_table(attributions, subjects, rng, n_boot)
    regions_csv = out / "regions.csv"
    table.to_csv(regions_csv, index=False)
    heatmap = _heatmap(table, out / "regions_heatmap.png", method)
    comparisons = [
        {"target_a": a, "target_b": b, **_comparison(attributions[a], attributions[b], subjects, rng)}
        for a, b in combinations(attributions, 2)
    ]
    comparisons_csv = out / "comparisons.csv"
    pd.DataFrame(comparisons, columns=["target_a", "target_b", "statistic", "p_value", "n_subjects"]).to_csv(
        comparisons_csv, index=False
    )
    ranking = {
        label: part.sort_values("density", ascending=False)["region"].tolist()
        for label, part in table[table["region"] != "other"].groupby("target", sort=False)
    }
    settings = {
        "checkpoint": str(checkpoint),
        "prepared_dir": str(prepared_dir),
        "method": method,
        "baseline": baseline if method == "ig" else None,
        "steps": steps if method == "ig" else None,
        "split": split,
        "n_subjects": int(len(np.unique(subjects))),
        "n_images": len(crops),
        "n_boot": n_boot,
        "seed": seed,
        "targets": [label for _, _, label in targets],
        "subjects": sorted(np.unique(subjects).tolist()),
        "ranking_by_density": ranking,
        "empty_maps": empty,
    }
    (out / "explain.json").write_text(json.dumps(settings, indent=2))
    return ExplainResult(out, regions_csv, heatmap, comparisons_csv, galleries, settings["n_subjects"], len(crops))


def _select_rows(
    prepared: Path, split: str | None, cohort: str | Path | None, n_subjects: int, rng: np.random.Generator
) -> pd.DataFrame:
    path = prepared / "manifest.parquet"
    if not path.is_file():
        raise SchemaError(f"{path} not found; run `facehealth faces prepare` first")
    manifest = pd.read_parquet(path)
    if "kind" in manifest and (manifest["kind"] == "image").any():
        manifest = manifest[manifest["kind"] == "image"]  # photos; video frames are explained per clip elsewhere
    subjects = sorted(manifest["subject_id"].astype(str).unique())
    if split is not None and cohort is not None:
        from facehealth.data.splits import load_splits

        try:
            splits = load_splits(Path(cohort))
            in_split = set(splits.loc[splits["split"] == split, "subject_id"].astype(str))
            subjects = [s for s in subjects if s in in_split]
        except SchemaError:
            warnings.warn(f"no splits.csv in {cohort}; explaining subjects from every split", stacklevel=3)
    if not subjects:
        raise SchemaError(f"no subjects with photos in {prepared} for split '{split}'")
    drawn = set(rng.choice(subjects, size=min(n_subjects, len(subjects)), replace=False).tolist())
    rows = manifest[manifest["subject_id"].astype(str).isin(drawn)]
    return rows.sort_values(["subject_id", "crop_path"]).reset_index(drop=True)


def _region_table(
    attributions: dict[str, list[RegionAttribution]], subjects: np.ndarray, rng: np.random.Generator, n_boot: int
) -> pd.DataFrame:
    records = []
    for label, items in attributions.items():
        share = aggregate_regions(items, subjects, rng, "share", n_boot)
        density = aggregate_regions(items, subjects, rng, "density", n_boot)
        for s, d in zip(share, density):
            records.append(
                {
                    "target": label,
                    "region": s.region,
                    "share": s.mean,
                    "low": s.low,
                    "high": s.high,
                    "density": d.mean,
                    "density_low": d.low,
                    "density_high": d.high,
                    "n_subjects": s.n_subjects,
                }
            )
    return pd.DataFrame(records)


def _comparison(
    a: list[RegionAttribution], b: list[RegionAttribution], subjects: np.ndarray, rng: np.random.Generator
) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        c = compare_tasks(a, b, subjects, rng)
    return {"statistic": c.statistic, "p_value": c.p_value, "n_subjects": c.n_subjects}


def _heatmap(table: pd.DataFrame, path: Path, method: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    targets = list(dict.fromkeys(table["target"]))
    order = [*REGIONS, "other"]
    fig, axes = plt.subplots(1, 2, figsize=(4 + 1.6 * len(targets), 6), constrained_layout=True)
    for ax, measure in zip(axes, ("share", "density")):
        values = (
            table.pivot(index="region", columns="target", values=measure).reindex(index=order, columns=targets)
        ).to_numpy(float)
        if measure == "share":
            image = ax.imshow(values, cmap="viridis", aspect="auto", vmin=0)
            ax.set_title(f"{method}: share of saliency")
        else:
            # Density is a ratio around 1 (area-proportional): a diverging scale centred there.
            spread = max(float(np.nanmax(np.abs(values - 1.0), initial=0.0)), 0.05)
            norm = TwoSlopeNorm(1.0, max(1.0 - spread, 0.0), 1.0 + spread)
            image = ax.imshow(values, cmap="coolwarm", aspect="auto", norm=norm)
            ax.set_title(f"{method}: density (1 = by area)")
        ax.set_xticks(range(len(targets)), targets, rotation=45, ha="right")
        ax.set_yticks(range(len(order)), order)
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                dark = measure == "share" and v < 0.5 * np.nanmax(values)  # viridis is dark at the bottom
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if dark else "black")
        fig.colorbar(image, ax=ax, shrink=0.7)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label)
