"""Report figures: one small function per figure, each returning PNG bytes.

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas rather than through
``pyplot``, so no global figure state is kept and nothing needs a display.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "bar_counts",
    "loss_curves",
    "scatter_grid",
    "error_by_band",
    "km_curves",
    "line_with_band",
    "roc_plot",
    "pr_plot",
    "calibration_plot",
    "confusion_plot",
    "forest_plot",
]

_DPI = 100
_BLUE, _ORANGE, _GREY = "#1f5f99", "#d9822b", "#777777"


def _figure(width: float = 5.0, height: float = 3.6) -> Figure:
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


def _clean(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(alpha=0.25, lw=0.6)


def bar_counts(counts: Mapping[str, float], title: str, xlabel: str = "count") -> bytes:
    """Horizontal bars, largest at the top (QC rejections by reason)."""
    items = sorted(counts.items(), key=lambda kv: kv[1])
    fig = _figure(5.0, max(1.6, 0.35 * len(items) + 0.9))
    ax = fig.add_subplot()
    ax.barh([k for k, _ in items], [v for _, v in items], color=_BLUE)
    ax.set(title=title, xlabel=xlabel)
    _clean(ax)
    return _png(fig)


def loss_curves(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str, ylabel: str) -> bytes:
    """Loss against epoch, one line per named series (train, val, ...)."""
    fig = _figure()
    ax = fig.add_subplot()
    for (name, (x, y)), color in zip(series.items(), [_BLUE, _ORANGE, _GREY, "#3a8a3a"]):
        ax.plot(x, y, marker="o", ms=3, lw=1.5, label=name, color=color)
    ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(series) > 1:
        ax.legend(frameon=False)
    _clean(ax)
    return _png(fig)


def scatter_grid(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], cols: int = 4) -> bytes:
    """Predicted against true value, one small panel per (title, true, predicted), with the identity line."""
    rows = max(1, int(np.ceil(len(panels) / cols)))
    cols = min(cols, max(1, len(panels)))
    fig = _figure(2.6 * cols, 2.4 * rows)
    for i, (title, y, p) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        y, p = np.asarray(y, float), np.asarray(p, float)
        ok = np.isfinite(y) & np.isfinite(p)
        ax.scatter(y[ok], p[ok], s=9, alpha=0.6, color=_BLUE, edgecolor="none")
        if ok.any():
            lo, hi = min(y[ok].min(), p[ok].min()), max(y[ok].max(), p[ok].max())
            ax.plot([lo, hi], [lo, hi], color=_GREY, lw=0.8, ls="--")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        if i % cols == 0:
            ax.set_ylabel("predicted", fontsize=8)
        if i >= (rows - 1) * cols:
            ax.set_xlabel("true", fontsize=8)
        _clean(ax)
    return _png(fig)


def error_by_band(age: np.ndarray, abs_error: np.ndarray, edges: Sequence[float]) -> bytes:
    """Absolute age error by age band (box plots; n under each band)."""
    frame = pd.DataFrame({"age": np.asarray(age, float), "err": np.asarray(abs_error, float)}).dropna()
    frame["band"] = pd.cut(frame["age"], edges, right=False)
    groups = [(str(b), part["err"].to_numpy()) for b, part in frame.groupby("band", observed=True)]
    fig = _figure(5.5, 3.4)
    ax = fig.add_subplot()
    if groups:
        ax.boxplot([g for _, g in groups], showfliers=False)
        ax.set_xticks(range(1, len(groups) + 1), [f"{b}\nn={len(g)}" for b, g in groups], fontsize=7)
    ax.set(title="Absolute error by age band", ylabel="|predicted - true| (years)")
    _clean(ax)
    return _png(fig)


def km_curves(curves: Mapping[str, pd.DataFrame], title: str = "Kaplan-Meier by risk quartile") -> bytes:
    """Survival step curves with their 95% bands; ``curves[label]`` has time, survival, low, high."""
    fig = _figure(6.0, 3.8)
    ax = fig.add_subplot()
    colors = ["#2b7a3d", "#8fb04a", "#e0a030", "#c0392b", _BLUE, _GREY]
    for (label, c), color in zip(curves.items(), colors):
        ax.step(c["time"], c["survival"], where="post", color=color, lw=1.6, label=str(label))
        if {"low", "high"} <= set(c.columns):
            ax.fill_between(c["time"], c["low"], c["high"], step="post", color=color, alpha=0.07, lw=0)
    ax.set(title=title, xlabel="years", ylabel="survival probability", ylim=(0, 1.02))
    fig.legend(frameon=False, fontsize=8, loc="outside right upper")
    _clean(ax)
    return _png(fig)


def line_with_band(
    lines: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None, Sequence[float] | None]],
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
) -> bytes:
    """One line per name, ``(x, y, low, high)`` with an optional shaded interval."""
    fig = _figure()
    ax = fig.add_subplot()
    for (name, (x, y, lo, hi)), color in zip(lines.items(), [_BLUE, _ORANGE, "#3a8a3a", _GREY, "#8e44ad"]):
        ax.plot(x, y, marker="o", ms=3, lw=1.5, color=color, label=name)
        if lo is not None and hi is not None:
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
    if logx:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ticks = sorted({float(v) for x, *_ in lines.values() for v in x})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(lines) > 1:
        ax.legend(frameon=False, fontsize=8)
    _clean(ax)
    return _png(fig)


def roc_plot(y: np.ndarray, scores: Mapping[str, np.ndarray], title: str = "ROC") -> bytes:
    """ROC curves (sklearn.metrics.roc_curve); ``scores`` maps a label to scores, y is 0/1 or per-label."""
    from sklearn.metrics import roc_curve

    fig = _figure(3.8, 3.6)
    ax = fig.add_subplot()
    for name, s in scores.items():
        yy = y[name] if isinstance(y, Mapping) else y
        fpr, tpr, _ = roc_curve(yy, s)
        ax.plot(fpr, tpr, lw=1.6, label=name)
    ax.plot([0, 1], [0, 1], color=_GREY, lw=0.8, ls="--")
    ax.set(title=title, xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    _clean(ax)
    return _png(fig)


def pr_plot(y: np.ndarray, score: np.ndarray, title: str = "Precision-recall") -> bytes:
    """Precision-recall curve (sklearn.metrics.precision_recall_curve) with the prevalence line."""
    from sklearn.metrics import precision_recall_curve

    fig = _figure(3.8, 3.6)
    ax = fig.add_subplot()
    precision, recall, _ = precision_recall_curve(y, score)
    ax.step(recall, precision, where="post", color=_BLUE, lw=1.6)
    ax.axhline(float(np.mean(y)), color=_GREY, lw=0.8, ls="--", label="prevalence")
    ax.set(title=title, xlabel="recall (sensitivity)", ylabel="precision (PPV)", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(frameon=False, fontsize=8)
    _clean(ax)
    return _png(fig)


def calibration_plot(predicted: Sequence[float], observed: Sequence[float], counts: Sequence[float]) -> bytes:
    """Reliability diagram: observed event rate against mean predicted probability per risk bin."""
    fig = _figure(3.8, 3.6)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color=_GREY, lw=0.8, ls="--", label="perfect")
    sizes = 12 + 60 * np.asarray(counts, float) / max(1.0, float(np.max(counts)) if len(counts) else 1.0)
    ax.plot(predicted, observed, color=_BLUE, lw=1.2)
    ax.scatter(predicted, observed, s=sizes, color=_BLUE, zorder=3, label="risk bins")
    ax.set(title="Calibration", xlabel="mean predicted probability", ylabel="observed rate", xlim=(0, 1), ylim=(0, 1))
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    _clean(ax)
    return _png(fig)


def confusion_plot(matrix: Sequence[Sequence[float]], classes: Sequence[str], title: str = "Confusion matrix") -> bytes:
    """Counts with true classes as rows and predicted classes as columns."""
    m = np.asarray(matrix, float)
    fig = _figure(3.6, 3.3)
    ax = fig.add_subplot()
    ax.imshow(m, cmap="Blues")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:.0f}", ha="center", va="center", color="white" if m[i, j] > m.max() / 2 else "k")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set(title=title, xlabel="predicted", ylabel="true")
    return _png(fig)


def forest_plot(
    rows: Sequence[tuple[str, float, float, float]], title: str, xlabel: str, reference: float | None = None
) -> bytes:
    """Point estimates with CIs, one row per (label, value, low, high), first row at the top."""
    fig = _figure(5.5, max(1.8, 0.38 * len(rows) + 1.0))
    ax = fig.add_subplot()
    ys = np.arange(len(rows))[::-1]
    for y, (_, v, lo, hi) in zip(ys, rows):
        if np.isfinite(v):
            ax.errorbar(v, y, xerr=[[max(v - lo, 0)], [max(hi - v, 0)]], fmt="s", color=_BLUE, ms=5, capsize=3)
    if reference is not None:
        ax.axvline(reference, color=_GREY, lw=0.8, ls="--")
    ax.set_yticks(ys, [r[0] for r in rows], fontsize=8)
    ax.set(title=title, xlabel=xlabel)
    _clean(ax)
    return _png(fig)
