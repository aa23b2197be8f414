"""What the regional-colour features buy: the same fine-tune with ``colour_grid`` 0 and 8.

Re-runs the fine-tuning stage of a finished run (e.g. ``facehealth demo --out runs/demo``) twice,
from the same MAE checkpoint, splits and seed, and prints the subject-level test and external
metrics beside the training-mean reference:

    python benchmarks/colour_branch.py --run runs/demo
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from facehealth.config import from_mapping, read_yaml_mapping
from facehealth.evaluate.metrics import auroc, harrell_c_index, mae
from facehealth.train.config import FinetuneConfig
from facehealth.train.finetune import finetune


def _metrics(predictions: pd.DataFrame, labels: pd.DataFrame, split: str) -> dict[str, float]:
    part = predictions[predictions["split"] == split]
    truth = labels.loc[part["subject_id"]]
    train_age = labels.loc[predictions.loc[predictions["split"] == "train", "subject_id"], "age"].mean()
    return {
        "age MAE": mae(truth["age"], part["pred_age"]),
        "age MAE, training mean": mae(truth["age"], np.full(len(part), train_age)),
        "CAD AUROC": auroc(truth["cad"], part["prob_cad"]),
        "Harrell's C": harrell_c_index(truth["survival_time"], part["risk_survival"], truth["survival_event"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="A finished run folder with finetune/ and cohort/.")
    parser.add_argument("--grids", type=int, nargs="+", default=[0, 8])
    args = parser.parse_args()
    labels = pd.read_csv(args.run / "cohort" / "labels.csv").set_index("subject_id")
    labels["age"] = pd.read_csv(args.run / "cohort" / "subjects.csv").set_index("subject_id")["age"]
    resolved = read_yaml_mapping(args.run / "finetune" / "config.resolved.yaml")
    resolved.pop("kind", None)  # the resolved file names its dataclass
    base = from_mapping(FinetuneConfig, resolved)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for grid in args.grids:
            cfg = dataclasses.replace(base, colour_grid=grid, out_dir=str(Path(tmp) / f"grid{grid}"))
            start = time.perf_counter()
            finetune(cfg)
            seconds = time.perf_counter() - start
            predictions = pd.read_parquet(Path(cfg.out_dir) / "predictions.parquet")
            for split in ("test", "external"):
                rows.append({"colour_grid": grid, "split": split, **_metrics(predictions, labels, split), "s": seconds})
    print(f"{platform.machine()}, {date.today()}; `python benchmarks/colour_branch.py --run {args.run}`\n")
    header = list(rows[0])
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")


if __name__ == "__main__":
    main()
