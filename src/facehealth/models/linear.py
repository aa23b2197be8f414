"""Linear heads on frozen features: ridge, logistic and Cox (the FaceAge-style baseline's heads).

Features are standardised on the training rows; the Cox model first reduces
them with PCA (16 components by default) because 128 covariates on a few
hundred events would overfit a proportional-hazards fit.

The penalty is chosen by cross-validation on the training rows, or, when validation rows are
given, on them: the grid value with the best validation score (mean squared error, log loss,
Harrell's C), then refitted on the training rows. A study gives every arm the same validation
subjects for its choices, as fine-tuning uses them for early stopping and its head penalty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["LinearHead", "RIDGE_ALPHAS", "LOGISTIC_CS", "COX_PENALTIES"]

RIDGE_ALPHAS = np.logspace(-2, 4, 13)
LOGISTIC_CS = np.logspace(-4, 4, 8)
COX_PENALTIES = (0.01, 0.03, 0.1, 0.3, 1.0)


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

    def fit(
        self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None = None, y_val: np.ndarray | None = None
    ) -> LinearHead:
        """Fit on (x, y); with (x_val, y_val), choose the penalty by the validation score first."""
        from sklearn.linear_model import LogisticRegressionCV, RidgeCV

        x, y = _labelled(x, y)
        self._mean, self._std = x.mean(0), x.std(0) + 1e-8
        z = self._scale(x)
        if x_val is not None and y_val is not None:
            xv, yv = _labelled(x_val, y_val)
            if len(yv) >= 3 and (self.kind != "cox" or yv[:, 1].sum() > 0):
                return self._fit_on_validation(z, y, self._scale(xv), yv)
        if self.kind == "regression":
            self._model = RidgeCV(alphas=RIDGE_ALPHAS).fit(z, y)
        elif self.kind in ("binary", "multiclass"):
            self._model = LogisticRegressionCV(
                Cs=8, max_iter=2000, l1_ratios=(0.0,), scoring="neg_log_loss", use_legacy_attributes=False
            ).fit(z, y.astype(int))
        elif self.kind == "cox":
            self._fit_cox(z, y, 0.1)
        else:
            raise ValueError(f"unknown kind '{self.kind}'")
        return self

    def _fit_cox(self, z: np.ndarray, y: np.ndarray, penalizer: float) -> None:
        from lifelines import CoxPHFitter
        from sklearn.decomposition import PCA

        self._pca = PCA(n_components=min(self.cox_components, z.shape[1], len(z) - 1)).fit(z)
        frame = pd.DataFrame(self._pca.transform(z), columns=[f"pc{i}" for i in range(self._pca.n_components_)])
        frame["time"], frame["event"] = y[:, 0], y[:, 1]
        self._model = CoxPHFitter(penalizer=penalizer).fit(frame, "time", "event")

    def _fit_on_validation(self, z: np.ndarray, y: np.ndarray, zv: np.ndarray, yv: np.ndarray) -> LinearHead:
        from lifelines.utils import concordance_index  # Harrell's C; models/ sits below evaluate/
        from sklearn.linear_model import LogisticRegression, Ridge

        best, best_model = -np.inf, None
        if self.kind == "regression":
            for alpha in RIDGE_ALPHAS:
                model = Ridge(alpha=alpha).fit(z, y)
                score = -float(np.mean((model.predict(zv) - yv) ** 2))
                best, best_model = (score, model) if score > best else (best, best_model)
        elif self.kind in ("binary", "multiclass"):
            classes, labels = np.unique(y.astype(int)), yv.astype(int)
            seen = np.isin(labels, classes)  # validation rows of a class the training rows lack cannot be scored
            column = np.searchsorted(classes, labels[seen])
            for c in LOGISTIC_CS:
                model = LogisticRegression(C=c, max_iter=2000).fit(z, y.astype(int))
                score = -np.inf
                if seen.any():  # mean log-likelihood of the validation labels
                    p = model.predict_proba(zv[seen])[np.arange(len(column)), column]
                    score = float(np.mean(np.log(np.clip(p, 1e-12, 1))))
                best, best_model = (score, model) if score > best else (best, best_model)
        elif self.kind == "cox":
            best_penalty = COX_PENALTIES[0]
            for penalty in COX_PENALTIES:
                self._fit_cox(z, y, penalty)
                score = concordance_index(yv[:, 0], -self._risk(zv), yv[:, 1])
                if np.isfinite(score) and score > best:
                    best, best_penalty = score, penalty
            self._fit_cox(z, y, best_penalty)
            return self
        else:
            raise ValueError(f"unknown kind '{self.kind}'")
        self._model = best_model
        return self

    def _risk(self, z: np.ndarray) -> np.ndarray:
        """Log relative hazard of standardised rows ``z`` (Cox)."""
        frame = pd.DataFrame(self._pca.transform(z), columns=[f"pc{i}" for i in range(self._pca.n_components_)])
        return np.log(self._model.predict_partial_hazard(frame).to_numpy())

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Values (regression), P(class 1) (binary), class probabilities (multiclass), log hazard (cox)."""
        z = self._scale(np.asarray(x, float))
        if self.kind == "regression":
            return self._model.predict(z)
        if self.kind == "binary":
            return self._model.predict_proba(z)[:, 1]
        if self.kind == "multiclass":
            return self._model.predict_proba(z)
        return self._risk(z)


def _labelled(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose label (every column of it, for Cox) is present."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = ~np.isnan(y).any(axis=1) if y.ndim == 2 else ~np.isnan(y)
    return x[keep], y[keep]
