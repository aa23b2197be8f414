"""Figures of the robustness suite: metric / agreement / rejection curves and a perturbation contact sheet."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from facehealth.robustness.perturb import PERTURBATIONS
from facehealth.robustness.regions import face_box

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import NDArray

__all__ = ["plot_curves", "contact_sheet"]


def _figure(n_panels: int, cols: int = 3) -> tuple[ModuleType, Figure, NDArray[np.object_]]:
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    cols = min(cols, n_panels)
    rows = int(np.ceil(n_panels / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.ravel()[n_panels:]:
        ax.set_visible(False)
    return plt, fig, axes.ravel()


def _lines(ax: Axes, frame: pd.DataFrame, column: str) -> None:
    for i, (name, part) in enumerate(frame.groupby("perturbation", sort=False)):
        part = part.sort_values("severity")
        style = "-" if i < 10 else "--"  # the default cycle has ten colours
        ax.plot(part["severity"], part[column], style, marker="o", ms=3, lw=1.2, label=name)
    ax.set_xlabel("severity")
    ax.grid(alpha=0.3)


def plot_curves(table: pd.DataFrame, n_subjects: int, out: Path) -> list[Path]:
    """robustness_metrics.png (metric vs severity per task and metric), robustness_agreement.png
    (clean-vs-perturbed agreement per task) and robustness_rejected.png (share rejected by the gate)."""
    written = []
    panels = list(table.groupby(["task", "metric"], sort=False))
    agree = [(task, part) for task, part in table.groupby("task", sort=False)]
    for kind, items in (("metrics", panels), ("agreement", agree)):
        if not items:
            continue
        plt, fig, axes = _figure(len(items))
        for ax, (key, part) in zip(axes, items):
            if kind == "metrics":
                _lines(ax, part, "value")
                ax.set_title(f"{key[0]}: {key[1]}", fontsize=10)
            else:
                part = part.drop_duplicates(["perturbation", "severity"])
                _lines(ax, part, "agreement")
                ax.set_title(f"{key}: {part['agreement_metric'].iloc[0]} clean vs perturbed", fontsize=10)
                low = np.nanmin([-0.1, part["agreement"].min() - 0.05])  # ICC can go below 0
                ax.set_ylim(low, 1.05)
        axes[0].legend(fontsize=6, ncol=2)
        fig.tight_layout()
        path = out / f"robustness_{kind}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    rejected = table.drop_duplicates(["perturbation", "severity"]).assign(
        fraction=lambda d: d["n_rejected"] / max(n_subjects, 1)
    )
    plt, fig, axes = _figure(1)
    _lines(axes[0], rejected, "fraction")
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].set_title(f"rejected by detector / quality gate (n = {n_subjects})", fontsize=10)
    axes[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "robustness_rejected.png", dpi=110)
    plt.close(fig)
    return [*written, out / "robustness_rejected.png"]


def contact_sheet(
    image: np.ndarray,
    landmarks: np.ndarray,
    names: list[str],
    out: Path,
    seed: int = 0,
    severities: tuple[int, ...] = (1, 3, 5),
) -> Path:
    """robustness_contact_sheet.png: one face, a row per perturbation, columns clean and each severity."""
    cx, cy, hw, hh = face_box(landmarks)
    half = 1.5 * max(hw, hh)  # show some context around the face (crop jitter, side light)
    h, w = image.shape[:2]
    x0, x1 = int(max(0, cx - half)), int(min(w, cx + half))
    y0, y1 = int(max(0, cy - half)), int(min(h, cy + half))
    plt, fig, axes = _figure(len(names) * (1 + len(severities)), cols=1 + len(severities))
    fig.set_size_inches(1.9 * (1 + len(severities)), 1.9 * len(names))
    for r, name in enumerate(names):
        for c, sev in enumerate((0, *severities)):
            img = PERTURBATIONS[name](image, sev, landmarks, np.random.default_rng([seed, 0, r, sev]))
            ax = axes[r * (1 + len(severities)) + c]
            ax.imshow(img[y0:y1, x0:x1])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("clean" if sev == 0 else f"severity {sev}", fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=7)
    fig.tight_layout()
    path = out / "robustness_contact_sheet.png"
    fig.savefig(path, dpi=70)
    plt.close(fig)
    return path
