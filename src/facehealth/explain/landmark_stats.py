"""Digital facial map statistics (Emoface): which of the 68 landmarks differ between two groups.

:func:`landmark_significance` compares two groups (e.g. BPD vs MDD) landmark by landmark with a
two-sided test, Benjamini-Hochberg FDR, an effect size and a 0..1 ranking; :func:`digital_facial_map`
draws and saves the result. The per-landmark values come from :mod:`facehealth.explain.landmark_map`
(gradients or motion).

Reference: Emoface's "digital facial mapping" ranks landmarks by the group difference they show;
the tests here are standard (Mann-Whitney U; Welch's t) with BH step-up q-values (Benjamini &
Hochberg, JRSS-B 57:289, 1995).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from facehealth.errors import InputError
from facehealth.explain.landmark_map import LANDMARK_REGION
from facehealth.faces.landmarks import REGIONS

__all__ = ["benjamini_hochberg", "landmark_significance", "digital_facial_map"]


def benjamini_hochberg(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN p-values stay NaN and are not counted.

    ``q_(i) = min_{j >= i} min(1, m p_(j) / j)`` for sorted p-values p_(1) <= ... <= p_(m)
    (Benjamini & Hochberg 1995; same as R's ``p.adjust(method="BH")``).
    """
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return q
    order = np.argsort(p[ok], kind="mergesort")
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = adjusted
    q[ok] = out
    return q


def _test_one(a: np.ndarray, b: np.ndarray, test: str) -> tuple[float, float, float]:
    """(statistic, p, effect) for one landmark; NaNs when a group is too small or values are constant."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2 or np.ptp(np.concatenate([a, b])) == 0:
        return np.nan, np.nan, np.nan
    if test == "mannwhitney":
        u, p = stats.mannwhitneyu(a, b, alternative="two-sided")
        # Rank-biserial correlation r = 2U/(n_a n_b) - 1 in [-1, 1]; > 0: group a larger.
        return float(u), float(p), float(2 * u / (len(a) * len(b)) - 1)
    t, p = stats.ttest_ind(a, b, equal_var=False)
    # Hedges' g: Cohen's d on the pooled sd with the small-sample correction 1 - 3/(4(n-2)-1).
    na, nb = len(a), len(b)
    pooled = np.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    d = (a.mean() - b.mean()) / pooled if pooled > 0 else np.nan
    return float(t), float(p), float(d * (1 - 3 / (4 * (na + nb - 2) - 1)))


def landmark_significance(
    values_group_a: np.ndarray,
    values_group_b: np.ndarray,
    names: Sequence[str] | None = None,
    test: Literal["mannwhitney", "welch"] = "mannwhitney",
) -> pd.DataFrame:
    """Per-landmark two-group test with BH FDR, effect size and a 0..1 ranking.

    Args:
        values_group_a, values_group_b: (n_a, L) and (n_b, L) per-subject values
            (L = 68 landmarks usually; NaN = missing).
        names: L landmark labels; default ``"<region>_<index>"``.
        test: two-sided Mann-Whitney U (effect = rank-biserial r) or Welch's t
            (effect = Hedges' g); both > 0 when group a is larger.

    Returns:
        One row per landmark with columns ``landmark, name, region, statistic, p,
        q, effect, mean_a, mean_b, rank, score``. ``rank`` 1 = most significant
        (smallest p; ties broken by larger |effect|); ``score`` = 1 - (rank-1)/(L-1),
        so 1 = most significant, 0 = least; untestable landmarks rank last with score 0.
    """
    a = np.asarray(values_group_a, dtype=np.float64)
    b = np.asarray(values_group_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise InputError(f"groups must be (n_a, L) and (n_b, L) with the same L, got {a.shape} and {b.shape}")
    if test not in ("mannwhitney", "welch"):
        raise InputError(f"test must be 'mannwhitney' or 'welch', got {test!r}")
    n_lm = a.shape[1]
    if names is not None and len(names) != n_lm:
        raise InputError(f"names has {len(names)} entries for {n_lm} landmarks")
    regions = [LANDMARK_REGION[i] if n_lm == 68 else "" for i in range(n_lm)]
    labels = list(names) if names is not None else [f"{r}_{i}" if r else str(i) for i, r in enumerate(regions)]
    results = np.array([_test_one(a[:, i], b[:, i], test) for i in range(n_lm)]).reshape(n_lm, 3)
    if np.isnan(results[:, 1]).any():
        warnings.warn(
            f"{int(np.isnan(results[:, 1]).sum())} landmark(s) untestable (constant or < 2 values a group): p = NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    p = results[:, 1]
    q = benjamini_hochberg(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN means on purpose
        mean_a, mean_b = np.nanmean(a, axis=0), np.nanmean(b, axis=0)
    abs_effect = np.nan_to_num(np.abs(results[:, 2]), nan=0.0)
    order = np.lexsort((-abs_effect, np.where(np.isfinite(p), p, np.inf)))
    rank = np.empty(n_lm, dtype=np.int64)
    rank[order] = np.arange(1, n_lm + 1)
    score = 1.0 - (rank - 1) / max(n_lm - 1, 1)
    score[~np.isfinite(p)] = 0.0
    return pd.DataFrame(
        {
            "landmark": np.arange(n_lm),
            "name": labels,
            "region": regions,
            "statistic": results[:, 0],
            "p": p,
            "q": q,
            "effect": results[:, 2],
            "mean_a": mean_a,
            "mean_b": mean_b,
            "rank": rank,
            "score": score,
        }
    )


def digital_facial_map(
    table: pd.DataFrame,
    mean_landmarks: np.ndarray,
    out_png: str | Path,
    out_csv: str | Path | None = None,
    top: int = 10,
    title: str = "",
    image: np.ndarray | None = None,
) -> Path:
    """Draw the 68 points of a mean face coloured and sized by ``table["score"]``; label the top ``top``.

    Args:
        table: output of :func:`landmark_significance` (one row per landmark).
        mean_landmarks: (68, 2) mean face in crop pixels (e.g. from
            :func:`facehealth.explain.standard_face.mean_shape`).
        out_png: figure path; ``out_csv``: where to also write ``table`` (optional).
        image: optional background (a mean or example crop in the same pixel frame).

    Returns:
        The PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = np.asarray(mean_landmarks, dtype=np.float64)
    if pts.shape != (len(table), 2):
        raise InputError(f"mean_landmarks must be ({len(table)}, 2), got {pts.shape}")
    score = table["score"].to_numpy(np.float64)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    if out_csv is not None:
        Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out_csv, index=False)
    fig, ax = plt.subplots(figsize=(5.5, 6))
    if image is not None:
        ax.imshow(image, alpha=0.55)
    for idx in REGIONS.values():  # outline of each region for orientation
        ax.plot(pts[list(idx), 0], pts[list(idx), 1], color="0.7", lw=0.8, zorder=1)
    sc = ax.scatter(pts[:, 0], pts[:, 1], c=score, s=15 + 160 * score, cmap="inferno_r", vmin=0, vmax=1, zorder=2)
    best = table.sort_values("rank").head(top)
    for _, row in best.iterrows():
        x, y = pts[int(row["landmark"])]
        ax.annotate(
            str(int(row["landmark"])),  # q-values are in the CSV: labels stay short in the crowded mouth
            (x, y),
            xytext=(5, 5),
            textcoords="offset points",
            fontsize=7,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.8, "lw": 0},
            zorder=3,
        )
    ax.set_aspect("equal")
    if image is None:
        ax.invert_yaxis()  # image convention: y down
    ax.set_axis_off()
    ax.set_title(title or f"landmark significance (score 1 = most significant; top {top} numbered)", fontsize=9)
    fig.colorbar(sc, ax=ax, fraction=0.04, label="score")
    fig.savefig(out_png, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return out_png
