"""Does MAE pretraining on faces help fine-tuning with few labels? A label-efficiency run on CPU.

    python benchmarks/pretraining_benefit.py [--subjects 240] [--mae-epochs 30] [--work DIR]
        [--doc docs/benchmarks.md | --no-doc]

1. synthesizes a cohort (3 photos per subject; 30% of subjects for testing, 60 for training,
   the rest for validation) and prepares its faces;
2. pretrains an MAE ViT-Ti/16 at 64 px on the crops of the non-test subjects (self-supervised: no
   labels used; no test face reaches the encoder, so both arms face equally unseen test photos);
3. runs the label-efficiency study (``facehealth.studies.designs``): fine-tunes age, CAD and
   three biomarkers (haemoglobin and total bilirubin, which have painted signs, and sodium, a
   negative control) on n = 20, 40, 60 labelled subjects (nested subsets), 3 seeds, once from
   the MAE encoder ("foundation") and once from random init ("vit_scratch"), same recipe,
   splits and test subjects; prints mean over seeds with a subject-bootstrap CI of that mean,
   under the command, the machine and the date, and writes it between the ``pretraining-benefit``
   markers of ``--doc``. Every run also used the validation labels (stopping epoch, head
   penalty): the table counts them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from facehealth.data.cohort import load_cohort
from facehealth.data.splits import make_splits, save_splits
from facehealth.data.synth import SynthConfig, synthesize_cohort
from facehealth.docblocks import add_doc_arguments, check_block, markdown_table, provenance, write_block
from facehealth.faces.prepare import prepare_faces
from facehealth.studies.config import StudyConfig
from facehealth.studies.designs import label_efficiency
from facehealth.train.config import OptimConfig, PretrainConfig
from facehealth.train.engine import pretrain_mae

REPO = Path(__file__).resolve().parents[1]
BLOCK = "pretraining-benefit"  # the marker name of this script's table in docs/benchmarks.md
ARMS = ("foundation", "vit_scratch")  # MAE-pretrained encoder, random init


def block(argv: list[str], summary: pd.DataFrame, context: str) -> str:
    """The provenance line (with ``context``: cohort, MAE, time) and one row per task, metric and label count.

    ``summary`` is the study's label_efficiency_summary.csv: arm, n, task, metric, mean, low, high, n_val.
    """
    rows = []
    for (task, metric, n), group in summary.groupby(["task", "metric", "n"], sort=True):
        by_arm = group.set_index("arm")
        cells = [f"{r['mean']:.2f} [{r['low']:.2f}, {r['high']:.2f}]" for _, r in by_arm.loc[list(ARMS)].iterrows()]
        rows.append((f"{task} ({metric})", f"{n} + {int(group['n_val'].iloc[0])}", *cells))
    header = ("task (metric)", "labelled: train + validation", "MAE-pretrained", "random init")
    lines = [f"{provenance(argv)}; {context}. Mean over seeds [subject-bootstrap 95% CI of that mean].", ""]
    return "\n".join(lines + markdown_table(header, "lrll", rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=240)
    parser.add_argument("--train-subjects", type=int, default=60)
    parser.add_argument("--mae-epochs", type=int, default=30)
    parser.add_argument("--ft-epochs", type=int, default=15)
    parser.add_argument("--work", type=Path, default=None)
    add_doc_arguments(parser, REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.doc:
        check_block(args.doc, BLOCK)  # before the measurement, not after
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
            splits_file=str(cohort / "splits.csv"),
            use_splits=("train", "val"),
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
    study = StudyConfig(
        cohort=str(cohort),
        prepared=str(prepared),
        out_dir=str(work / "study"),
        finetune_config=None,
        finetune={"backbone": "vit_tiny_patch16", "img_size": 64, "epochs": args.ft_epochs, "patience": 5},
        tasks=("age", "cad", "biomarkers"),
        biomarkers=("haemoglobin", "total_bilirubin", "sodium"),
        arms={"foundation": {"init_from": str(mae.checkpoint)}, "vit_scratch": {"init_from": None}},
        reference_arm="foundation",
        label_counts=(20, 40, args.train_subjects),
        seeds=(0, 1, 2),
    )
    label_efficiency(study)
    summary = pd.read_csv(work / "study" / "label_efficiency_summary.csv")
    n_test = int((pd.read_csv(cohort / "splits.csv")["split"] == "test").sum())
    context = (
        f"{args.subjects} synthetic subjects × 3 photos, {n_test} test; MAE ViT-Ti/16 at 64 px, "
        f"{args.mae_epochs} epochs on the non-test crops (final loss {mae.epoch_losses[-1]:.3f}); "
        f"3 seeds; {time.perf_counter() - start:.0f} s in all"
    )
    text = block(sys.argv, summary, context)
    print(f"work folder {work}\n\n{text}")
    if args.doc:
        write_block(args.doc, BLOCK, text)


if __name__ == "__main__":
    main()
