"""Does MAE pretraining on faces help fine-tuning with few labels? A small, CPU-sized check.

    python benchmarks/pretraining_benefit.py [--subjects 240] [--train-subjects 60] [--mae-epochs 30]

1. synthesizes a cohort (3 photos per subject) and prepares its faces;
2. pretrains an MAE ViT-Ti/16 at 64 px on all crops (self-supervised: no labels used);
3. fine-tunes age, biomarkers (haemoglobin, total bilirubin, and sodium as a negative control)
   and CAD on ``--train-subjects`` labeled subjects, once from the MAE encoder and once from
   random init, with the same seed, splits and schedule;
4. prints test-split metrics of both (subject level: the mean over a subject's photos).

Point estimates only, one seed: a smoke check of the pipeline, not the label-efficiency study
(which repeats seeds and adds confidence intervals).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

from facehealth.data.cohort import load_cohort
from facehealth.data.splits import make_splits, save_splits
from facehealth.data.synth import SynthConfig, synthesize_cohort
from facehealth.faces.prepare import prepare_faces
from facehealth.train.config import OptimConfig, PretrainConfig
from facehealth.train.engine import pretrain_mae
from facehealth.train.finetune import FinetuneConfig, finetune


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=240)
    parser.add_argument("--train-subjects", type=int, default=60)
    parser.add_argument("--mae-epochs", type=int, default=30)
    parser.add_argument("--ft-epochs", type=int, default=15)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="fh-benefit-"))
    start = time.perf_counter()
    cohort = synthesize_cohort(work / "cohort", SynthConfig(subjects=args.subjects, images_per_subject=3, seed=0))
    data = load_cohort(cohort)
    # Test = 30% of subjects; training labels limited to --train-subjects; the rest is validation.
    test_fraction = 0.3
    val_fraction = 1 - test_fraction - args.train_subjects / args.subjects
    save_splits(make_splits(data.subject_labels(), 0, test_fraction, val_fraction, stratify="cad"), cohort)
    prepared = prepare_faces(cohort, work / "faces", workers=2).out_dir
    mae = pretrain_mae(
        PretrainConfig(
            data=(str(prepared),),
            out_dir=str(work / "mae"),
            backbone="vit_tiny_patch16",
            img_size=64,
            decoder_dim=128,
            decoder_depth=2,
            decoder_heads=4,
            epochs=args.mae_epochs,
            batch_size=64,
            optim=OptimConfig(base_lr=1.5e-3, warmup_epochs=2),
        )
    )
    rows = {}
    for name, init in (("MAE-pretrained", str(mae.checkpoint)), ("random init", None)):
        result = finetune(
            FinetuneConfig(
                cohort=str(cohort),
                prepared=str(prepared),
                out_dir=str(work / name.replace(" ", "_")),
                tasks=("biomarkers", "age", "cad"),
                biomarkers=("haemoglobin", "total_bilirubin", "sodium"),
                backbone="vit_tiny_patch16",
                img_size=64,
                init_from=init,
                epochs=args.ft_epochs,
                batch_size=32,
                patience=5,
                seed=0,
            )
        )
        rows[name] = result.metrics["test"]
    table = pd.DataFrame(rows).T
    keep = [c for c in table.columns if c.endswith(("_mae", "_r", "_auroc")) or c == "n_subjects"]
    print(
        f"\n{platform.machine()}, {os.cpu_count()} cores; {args.subjects} subjects, {args.train_subjects} labeled for "
        f"training; MAE {args.mae_epochs} epochs (final loss {mae.epoch_losses[-1]:.3f}); "
        f"{time.perf_counter() - start:.0f} s in all\n"
    )
    print(table[keep].round(3).to_string())


if __name__ == "__main__":
    main()
