"""Which video model tells healthy / MDD / BPD apart on the synthetic stimulus videos? (CPU)

    python benchmarks/affective_inputs.py [--subjects 150] [--epochs 12] [--work DIR]
        [--doc docs/benchmarks.md | --no-doc]

1. synthesizes a cohort with one 10 s stimulus video per subject (2.5 fps, as the quick demo)
   and splits it by subject, stratified by group (25% test, 20% validation);
2. prepares the faces (detection, 68 landmarks, alignment, quality gate);
3. fine-tunes the affective model six ways with one recipe (heads fitted on frozen features,
   then Adam; early stopping on validation): what a frame gives the model (its pixels through a
   frozen random ViT-Ti/16 at 64 px, its landmark motion, or both) x how frames are pooled (a
   GRU over time, mean + sd over frames, or one time slice per stimulus starting at the onsets of
   each video's stimulus sidecar); landmarks in time slices also with the sidecars hidden, so the
   four slices split each clip equally (what the model did before it read sidecars);
4. prints the test 3-class accuracy and balanced accuracy with subject-bootstrap 95% CIs, under
   the command, the machine and the date, and writes them between the ``affective-inputs``
   markers of ``--doc``.

The planted group differences are in the expression time course (MDD: weak smile; BPD: large,
fast and variable responses; generator: AFFECTIVE_RESPONSE in data/synth/generate.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score

from facehealth.data.cohort import load_cohort
from facehealth.data.splits import make_splits, save_splits
from facehealth.data.stimuli import SIDECAR_SUFFIX
from facehealth.data.synth import SynthConfig, synthesize_cohort
from facehealth.docblocks import add_doc_arguments, check_block, markdown_table, provenance, write_block
from facehealth.evaluate.bootstrap import bootstrap_ci
from facehealth.faces.config import FacesConfig, VideoConfig
from facehealth.faces.prepare import prepare_faces
from facehealth.train.config import OptimConfig
from facehealth.train.finetune import FinetuneConfig, finetune

REPO = Path(__file__).resolve().parents[1]
BLOCK = "affective-inputs"  # the marker name of this script's table in docs/benchmarks.md
CLASSES = ("healthy", "MDD", "BPD")
# (pooling, frame input, slices start at the sidecar's stimulus onsets)
VARIANTS = (
    ("temporal", "pixels", True),
    ("stats", "pixels", True),
    ("stats", "both", True),
    ("timebins", "both", True),
    ("stats", "landmarks", True),
    ("timebins", "landmarks", False),
    ("timebins", "landmarks", True),
)


@contextmanager
def sidecars_hidden(cohort: Path, hide: bool) -> Iterator[None]:
    """Rename the videos' stimulus sidecars away for the equal-slice variant; always put them back."""
    moved = [p.rename(p.with_name(p.name + ".hidden")) for p in cohort.rglob(f"*{SIDECAR_SUFFIX}")] if hide else []
    try:
        yield
    finally:
        for path in moved:
            path.rename(path.with_name(path.name.removesuffix(".hidden")))


def _accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float((y == pred).mean())


def _balanced(y: np.ndarray, pred: np.ndarray) -> float:
    return float(balanced_accuracy_score(y, pred)) if len(np.unique(y)) > 1 else float("nan")


def block(argv: list[str], rows: list[dict], majority: float, sizes: dict[str, int], seconds: float) -> str:
    """The provenance line (cohort, split sizes, time) and one row per frame input and pooling."""
    split = " / ".join(f"{n} {name}" for name, n in sizes.items())
    lines = [
        f"{provenance(argv)}; {sum(sizes.values())} subjects ({split}), {seconds:.0f} s in all. "
        f"Test split, [subject-bootstrap 95% CI]; the majority class is {100 * majority:.0f}%.",
        "",
    ]
    header = ("frame input", "pooling", "accuracy", "balanced accuracy", "best epoch")
    cells = [
        (r["frame input"], r["pooling_text"], r["accuracy"], r["balanced_accuracy"], r["best_epoch"]) for r in rows
    ]
    return "\n".join(lines + markdown_table(header, "llllr", cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    add_doc_arguments(parser, REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.doc:
        check_block(args.doc, BLOCK)  # before the measurement, not after
    work = args.work or Path(tempfile.mkdtemp(prefix="fh-affective-"))
    start = time.perf_counter()
    cohort = synthesize_cohort(
        work / "cohort",
        SynthConfig(subjects=args.subjects, images_per_subject=1, videos_per_subject=1, video_fps=2.5, seed=args.seed),
    )
    labels = load_cohort(cohort).subject_labels()
    splits = make_splits(labels, args.seed, 0.25, 0.2, stratify="affective")
    save_splits(splits, cohort)
    sizes = {name: int((splits["split"] == name).sum()) for name in ("train", "val", "test")}
    prepared = prepare_faces(cohort, work / "faces", FacesConfig(video=VideoConfig(fps=2.5)), workers=2).out_dir
    truth = labels.set_index("subject_id")["affective"]
    rng = np.random.default_rng(0)
    rows = []
    for pooling, frame_input, aligned in VARIANTS:
        t0 = time.perf_counter()
        name = f"ft_{pooling}_{frame_input}" + ("" if aligned else "_equal")
        with sidecars_hidden(cohort, hide=not aligned):
            result = finetune(
                FinetuneConfig(
                    cohort=str(cohort),
                    prepared=str(prepared),
                    out_dir=str(work / name),
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
                "pooling_text": f"`{pooling}`"
                + ("" if pooling != "timebins" else (", per stimulus" if aligned else ", 4 equal slices")),
                "frame input": frame_input,
                "n_test": len(test),
                "accuracy": f"{acc.value:.2f} [{acc.low:.2f}, {acc.high:.2f}]",
                "balanced_accuracy": f"{bal.value:.2f} [{bal.low:.2f}, {bal.high:.2f}]",
                "best_epoch": result.best_epoch,
                "seconds": round(time.perf_counter() - t0),
            }
        )
    print(pd.DataFrame(rows).to_string(index=False))
    majority = truth[pred.loc[pred["split"] == "test", "subject_id"]].value_counts(normalize=True).iloc[0]
    text = block(sys.argv, rows, float(majority), sizes, time.perf_counter() - start)
    print(f"work folder {work}\n\n{text}")
    if args.doc:
        write_block(args.doc, BLOCK, text)


if __name__ == "__main__":
    main()
