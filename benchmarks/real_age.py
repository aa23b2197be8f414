"""Real-face age benchmark on the 460 packaged dated portraits (one seeded split by person).

Arms (same test subjects, subject-bootstrap 95% CI): predict-the-training-mean; dlib descriptor +
ridge (LinearHead); the CC0 dlib age network zero-shot and linear-probed on its 81-class output.
The ViT arms (--vit) are NOT implemented yet.

Usage: PYTHONPATH=src python benchmarks/real_age.py --out docs/real_age.md
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
from pathlib import Path

import numpy as np

from facehealth.data.portraits import portrait_table
from facehealth.evaluate.bootstrap import bootstrap_ci
from facehealth.faces.io import read_image
from facehealth.faces.pipeline import FacePipeline
from facehealth.models.apparent_age import ApparentAgeNet
from facehealth.models.descriptor import DlibFaceDescriptor
from facehealth.models.linear import LinearHead


def _mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.abs(y - p).mean())


def _r(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.corrcoef(y, p)[0, 1]) if np.ptp(p) > 1e-9 * max(1.0, abs(float(p.mean()))) else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("docs/real_age.md"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    table = portrait_table()
    pipe, net, desc = FacePipeline(), ApparentAgeNet(), DlibFaceDescriptor()
    rows = []
    for path, age, name in zip(table["path"], table["age"], table["file"], strict=True):
        image = read_image(path)
        faces = pipe.process(image).accepted
        if faces:
            chip = net.chips(image, [faces[0].landmarks])
            rows.append((name, float(age), net.features(chip)[0], desc.embed(image, faces[0].landmarks)))
    # portrait_table has no sitter id, so each portrait is its own subject (split and bootstrap by portrait);
    # a sitter with two portraits could land on both sides: not checked yet.
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(rows))
    n_test, n_val = len(rows) // 4, len(rows) // 8
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    y = np.array([r[1] for r in rows])
    probs = np.stack([r[2] for r in rows])
    emb = np.stack([r[3] for r in rows])
    zero_shot = net.predict_from_probabilities(probs)
    arms = {
        "predict the training mean": np.full(len(test), y[train].mean()),
        "dlib descriptor + ridge": LinearHead("regression")
        .fit(emb[train], y[train], emb[val], y[val])
        .predict(emb[test]),
        "CC0 age net, zero-shot": zero_shot[test],
        "CC0 age net, linear probe": LinearHead("regression")
        .fit(probs[train], y[train], probs[val], y[val])
        .predict(probs[test]),
    }
    lines = ["| arm | n test | MAE (y) [95% CI] | Pearson r [95% CI] |", "|---|---|---|---|"]
    for arm, pred in arms.items():
        m = bootstrap_ci(_mae, [y[test], pred], np.random.default_rng(args.seed), n_boot=args.n_boot)
        r = bootstrap_ci(_r, [y[test], pred], np.random.default_rng(args.seed), n_boot=args.n_boot)
        lines.append(
            f"| {arm} | {len(test)} | {m.value:.2f} [{m.low:.2f}, {m.high:.2f}] "
            f"| {r.value:.2f} [{r.low:.2f}, {r.high:.2f}] |"
        )
    text = "\n".join(
        [
            "# Real-face age benchmark (dated portraits)",
            "",
            f"{platform.node()} ({platform.processor() or platform.machine()}), {datetime.date.today()}; "
            f"`{' '.join(['python', *sys.argv])}`; {len(rows)} of {len(table)} portraits had a face passing quality.",
            "",
            *lines,
            "",
            "Caveat: the age label is the midpoint of an age window (see src/facehealth/data/portraits/README.md), "
            "so every MAE includes label noise.",
        ]
    )
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
