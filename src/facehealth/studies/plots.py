"""Figures of the study designs: label-efficiency curves and subgroup forest plots (PNG, matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from facehealth.studies.metrics import LOWER_IS_BETTER

__all__ = ["plot_label_efficiency", "plot_forest"]


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_label_efficiency(summary: pd.DataFrame, path: str | Path) -> Path:
    """One panel per task: mean metric across seeds vs labelled subjects, a line per arm.

    Bands are the subject-bootstrap CI of the across-seed mean. Regression tasks with several columns
    (biomarkers) are averaged over their columns so 62 markers make one panel, not 62.
    """
    plt = _pyplot()
    frame = summary.assign(panel=summary["task"].str.split(".").str[0])
    frame = frame.groupby(["panel", "metric", "arm", "n"], sort=False)[["mean", "low", "high"]].mean().reset_index()
    panels = list(frame.groupby(["panel", "metric"], sort=False))
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.2 * max(len(panels), 1), 3.4), squeeze=False)
    for ax, ((panel, metric), part) in zip(axes[0], panels):
        for arm, rows in part.groupby("arm", sort=False):
            rows = rows.sort_values("n")
            (line,) = ax.plot(rows["n"], rows["mean"], marker="o", label=arm)
            ax.fill_between(rows["n"], rows["low"], rows["high"], color=line.get_color(), alpha=0.15)
        ax.set_xscale("log")
        ax.minorticks_off()  # label only the counts that were run
        ax.set_xticks(sorted(part["n"].unique()), labels=[str(n) for n in sorted(part["n"].unique())])
        ax.set_xlabel("labelled training subjects")
        ax.set_ylabel(f"{metric} (lower is better)" if metric in LOWER_IS_BETTER else metric)
        ax.set_title(panel)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_forest(table: pd.DataFrame, path: str | Path) -> Path:
    """Forest plot: one panel per task, a row per subgroup level, a marker with CI per arm."""
    plt = _pyplot()
    panels = list(table.groupby(["task", "metric"], sort=False))
    n_rows = max((len(p.drop_duplicates(["group", "level"])) for _, p in panels), default=1)
    fig, axes = plt.subplots(
        1, max(len(panels), 1), figsize=(4.5 * max(len(panels), 1), 0.35 * n_rows + 1.5), squeeze=False
    )
    for ax, ((task, metric), part) in zip(axes[0], panels):
        levels = part.drop_duplicates(["group", "level"])
        is_all = levels["level"] == "all"
        levels = levels[~is_all | (is_all.cumsum() == 1)]  # every group repeats "all": draw it once
        labels = [f"{g}: {lv}" if lv != "all" else "all" for g, lv in zip(levels["group"], levels["level"])]
        y_of = {(g, lv): i for i, (g, lv) in enumerate(zip(levels["group"], levels["level"]))}
        arms = list(part["arm"].unique())
        for k, (arm, rows) in enumerate(part.groupby("arm", sort=False)):
            keep = [(g, lv) in y_of for g, lv in zip(rows["group"], rows["level"])]
            rows = rows[keep]
            y = np.array([y_of[(g, lv)] for g, lv in zip(rows["group"], rows["level"])], float)
            y = y + (k - (len(arms) - 1) / 2) * 0.8 / max(len(arms), 1)
            err = np.vstack([rows["value"] - rows["low"], rows["high"] - rows["value"]])
            ax.errorbar(rows["value"], y, xerr=np.abs(err), fmt="o", ms=4, capsize=2, label=arm)
        ax.set_yticks(range(len(labels)), labels=labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(metric)
        ax.set_title(task)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
