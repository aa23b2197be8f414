"""Which video model tells healthy / MDD / BPD apart on the synthetic stimulus videos? (CPU)

    python benchmarks/affective_inputs.py [--subjects 150] [--epochs 12] [--work DIR]

1. synthesizes a cohort with one 10 s stimulus video per subject (2.5 fps, as the quick demo)
   and splits it by subject, stratified by group (25% test, 20% validation);
2. prepares the faces (detection, 68 landmarks, alignment, quality gate);
3. fine-tunes the affective model six ways with one recipe (heads fitted on frozen features,
   then Adam; early stopping on validation): what a frame gives the model (its pixels through a
   frozen random ViT-Ti/16 at 64 px, its landmark motion, or both) x how frames are pooled (a
   GRU over time, mean + sd over frames, or the means of 5 time slices);
4. prints the test 3-class accuracy and balanced accuracy with subject-bootstrap 95% CIs.

The planted group differences are in the expression time course (MDD: weak smile; BPD: large,
fast and variable responses; generator: AFFECTIVE_RESPONSE in data/synth/generate.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score

from facehealth.data.cohort import load_cohort
from facehealth.data.splits import make_splits, save_splits
from facehealth.data.synth import SynthConfig, synthesize_cohort
from facehealth.evaluate.bootstrap import bootstrap_ci
from facehealth.faces.config import FacesConfig, VideoConfig
from facehealth.faces.prepare import prepare_faces
from facehealth.train.config import OptimConfig
from facehealth.train.finetune import FinetuneConfig, finetune

CLASSES = ("healthy", "MDD", "BPD")
VARIANTS = (
    ("temporal", "pixels"),
    ("stats", "pixels"),
    ("stats", "both"),
    ("timebins", "both"),
    ("stats", "landmarks"),
    ("timebins", "landmarks"),
)


def _accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float((y == pred).mean())


def _balanced(y: np.ndarray, pred: np.ndarray) -> float:
    return float(balanced_accuracy_score(y, pred)) if len(np.unique(y)) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="fh-affective-"))
    start = time.perf_counter()
    cohort = synthesize_cohort(
        work / "cohort",
        SynthConfig(subjects=args.subjects, images_per_subject=1, videos_per_subject=1, video_fps=2.5, seed=args.seed),
    )
    labels = load_cohort(cohort).subject_labels()
    save_splits(make_splits(labels, args.seed, 0.25, 0.2, stratify="affective"), cohort)
    prepared = prepare_faces(cohort, work / "faces", FacesConfig(video=VideoConfig(fps=2.5)), workers=2).out_dir
    truth = labels.set_index("subject_id")["affective"]
    rng = np.random.default_rng(0)
    rows = []
    for pooling, frame_input in VARIANTS:
        t0 = time.perf_counter()
        result = finetune(
            FinetuneConfig(
                cohort=str(cohort),
                prepared=str(prepared),
                out_dir=str(work / f"ft_{pooling}_{frame_input}"),
                tasks=("affective",),
                backbone="vit_tiny_patch16",
                img_size=64,
                input="video",
                pooling=pooling,
                frame_input=frame_input,
                frames=20,
                mode="linear_probe",
                epochs=args.epochs,
                batch_size=8,
                patience=4,
                seed=args.seed,
                optim=OptimConfig(base_lr=2e-2, warmup_epochs=1.0),
            )
        )
        pred = pd.read_parquet(result.out_dir / "predictions.parquet")
        test = pred[pred["split"] == "test"]
        y = test["subject_id"].map(truth).to_numpy()
        guess = np.asarray(CLASSES)[test[[f"prob_{c}" for c in CLASSES]].to_numpy().argmax(1)]
        acc = bootstrap_ci(_accuracy, [y, guess], rng)
        bal = bootstrap_ci(_balanced, [y, guess], rng)
        rows.append(
            {
                "pooling": pooling,
                "frame input": frame_input,
                "n_test": len(test),
                "accuracy": f"{acc.value:.2f} [{acc.low:.2f}, {acc.high:.2f}]",
                "balanced_accuracy": f"{bal.value:.2f} [{bal.low:.2f}, {bal.high:.2f}]",
                "best_epoch": result.best_epoch,
                "seconds": round(time.perf_counter() - t0),
            }
        )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    majority = truth[pred.loc[pred["split"] == "test", "subject_id"]].value_counts(normalize=True).iloc[0]
    print(f"majority-class accuracy on the test split: {majority:.2f}")
    print(
        f"{args.subjects} subjects, seed {args.seed}; {time.perf_counter() - start:.0f} s on "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; work folder {work}"
    )


if __name__ == "__main__":
    main()
