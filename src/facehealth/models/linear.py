"""Linear heads on frozen features: ridge, logistic and Cox (the FaceAge-style baseline's heads).

Features are standardised on the training rows; the Cox model first reduces
them with PCA (16 components by default) because 128 covariates on a few
hundred events would overfit a proportional-hazards fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["LinearHead"]


@dataclass
class LinearHead:
    """``fit(x, y)`` then ``predict(x)``; kind: regression | binary | multiclass | cox (y = [time, event])."""

    kind: str
    cox_components: int = 16
    _mean: np.ndarray | None = field(default=None, repr=False)
    _std: np.ndarray | None = field(default=None, repr=False)
    _model: object = field(default=None, repr=False)
    _pca: object = field(default=None, repr=False)

    def _scale(self, x: np.ndarray) -> np.ndarray:
        return (x - self._mean) / self._std

    def fit(self, x: np.ndarray, y: np.ndarray) -> LinearHead:
        from sklearn.linear_model import LogisticRegressionCV, RidgeCV

        x = np.asarray(x, float)
        y = np.asarray(y, float)
        keep = ~np.isnan(y).any(axis=1) if y.ndim == 2 else ~np.isnan(y)
        x, y = x[keep], y[keep]
        self._mean, self._std = x.mean(0), x.std(0) + 1e-8
        z = self._scale(x)
        if self.kind == "regression":
            self._model = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(z, y)
        elif self.kind in ("binary", "multiclass"):
            self._model = LogisticRegressionCV(
                Cs=8, max_iter=2000, l1_ratios=(0.0,), scoring="neg_log_loss", use_legacy_attributes=False
            ).fit(z, y.astype(int))
        elif self.kind == "cox":
            from lifelines import CoxPHFitter
            from sklearn.decomposition import PCA

            self._pca = PCA(n_components=min(self.cox_components, z.shape[1], len(z) - 1)).fit(z)
            frame = pd.DataFrame(self._pca.transform(z), columns=[f"pc{i}" for i in range(self._pca.n_components_)])
            frame["time"], frame["event"] = y[:, 0], y[:, 1]
            self._model = CoxPHFitter(penalizer=0.1).fit(frame, "time", "event")
        else:
            raise ValueError(f"unknown kind '{self.kind}'")
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Values (regression), P(class 1) (binary), class probabilities (multiclass), log hazard (cox)."""
        z = self._scale(np.asarray(x, float))
        if self.kind == "regression":
            return self._model.predict(z)
        if self.kind == "binary":
            return self._model.predict_proba(z)[:, 1]
        if self.kind == "multiclass":
            return self._model.predict_proba(z)
        frame = pd.DataFrame(self._pca.transform(z), columns=[f"pc{i}" for i in range(self._pca.n_components_)])
        return np.log(self._model.predict_partial_hazard(frame).to_numpy())
