"""Per-landmark score tables: the CSV a facial map writes, or any table of landmark index + score.

:func:`read_landmark_scores` turns such a table into the (68,) weight vector the heatmaps and the
standardized faces paint. The facial map's ``landmark_significance.csv`` has ``landmark`` (0..67,
iBUG order) and ``score`` (1 = most significant); another table names its own columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facehealth.errors import InputError, SchemaError

__all__ = ["N_LANDMARKS", "read_landmark_scores"]

N_LANDMARKS = 68  # the iBUG 68-point scheme every face in the project carries


def read_landmark_scores(
    path: str | Path, landmark_column: str = "landmark", score_column: str = "score"
) -> np.ndarray:
    """The (68,) scores of a CSV with one row per landmark.

    Landmarks the table leaves out, and empty scores, get 0 (no weight), as
    :func:`~facehealth.explain.heatmap.gaussian_heatmap` treats NaN.

    Args:
        path: a CSV file.
        landmark_column: integer landmark index 0..67 (iBUG order).
        score_column: non-negative weight (e.g. ``score``, or ``|effect|`` computed beforehand).

    Raises:
        InputError: no such file, or not a readable CSV.
        SchemaError: a column is missing, an index is not an integer in 0..67 or repeats,
            a score is not a non-negative number, or no landmark has a score above 0.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such score table (give a CSV with '{landmark_column}' and '{score_column}')")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from exc
    missing = [c for c in (landmark_column, score_column) if c not in table.columns]
    if missing:
        raise SchemaError(
            f"{path}: no column {', '.join(repr(c) for c in missing)}; columns: {', '.join(map(str, table.columns))} "
            "(choose them with --landmark-column / --score-column)"
        )
    index = pd.to_numeric(table[landmark_column], errors="coerce")
    bad = ~(index.notna() & (index % 1 == 0) & index.between(0, N_LANDMARKS - 1))
    if bad.any():
        shown = table.loc[bad, landmark_column].head(3).tolist()
        raise SchemaError(f"{path}: '{landmark_column}' must be integers 0..{N_LANDMARKS - 1}; got {shown}")
    index = index.astype(int)
    if index.duplicated().any():
        raise SchemaError(f"{path}: landmark(s) {sorted(set(index[index.duplicated()]))[:5]} appear more than once")
    score = pd.to_numeric(table[score_column], errors="coerce")
    text = score.isna() & table[score_column].notna()
    if text.any():
        raise SchemaError(
            f"{path}: '{score_column}' must be numbers; got {table.loc[text, score_column].head(3).tolist()}"
        )
    values = score.to_numpy(np.float64)
    if (~np.isfinite(values) & ~np.isnan(values)).any() or (np.nan_to_num(values) < 0).any():
        raise SchemaError(f"{path}: '{score_column}' must be finite and >= 0 (take |effect| for a signed column)")
    out = np.zeros(N_LANDMARKS)
    out[index.to_numpy()] = np.nan_to_num(values, nan=0.0)
    if not (out > 0).any():
        raise SchemaError(f"{path}: every '{score_column}' is 0 or empty; nothing to paint")
    return out
