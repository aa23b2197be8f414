"""Inference speed: eager torch vs ONNX Runtime float32 vs ONNX Runtime int8, on the CPU.

For one multi-task model (age / CAD / survival heads; ``--model`` a fine-tuned checkpoint, else a
randomly initialised one of ``--backbone`` at ``--img-size``: speed does not depend on the weights):

- batch-1 latency, p50 and p95, of a normalised crop tensor (1, 3, H, W) -> every head;
- the full path, p50 and p95: an RGB photo (tests/fixtures/faces/obama.jpg) -> face detection,
  landmarks, alignment, quality gate -> every head -> ``Prediction`` (``model.predict``);
- batch throughput (crops/s) at ``--batch``.

torch and ONNX Runtime both get ``--threads`` intra-op threads (2: the machine's cores). Prints a
markdown table with the machine and date, and writes ``benchmarks/onnx_inference.json``.
Usage: ``python benchmarks/onnx_inference.py [--backbone vit_small_patch16 --img-size 112]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "tests" / "fixtures" / "faces" / "obama.jpg"


def _checkpoint(folder: Path, backbone: str, img_size: int) -> Path:
    from facehealth.models.checkpoint import CheckpointMeta, save_checkpoint
    from facehealth.models.multitask import MultiTaskModel
    from facehealth.models.tasks import TaskSpec

    tasks = (TaskSpec("age", "regression", ("age",)), TaskSpec("cad", "binary", ("cad",)))
    tasks += (TaskSpec("survival", "cox", ("time", "event")),)
    torch.manual_seed(0)
    model = MultiTaskModel(backbone, list(tasks), img_size=img_size)
    meta = CheckpointMeta(backbone=backbone, img_size=img_size, tasks=tasks)
    return save_checkpoint(folder / "checkpoint-best", model.state_dict(), meta)


def _times_ms(fn: Callable[[], object], reps: int, warmup: int) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(reps)
    for i in range(reps):
        start = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - start) * 1e3
    return out


def _heads(model: object) -> Callable[[np.ndarray], object]:
    """Crop tensor (B, 3, H, W) -> every head in clinical units, for either backend."""
    from facehealth.models.onnx_predictor import OnnxFaceHealthModel

    if isinstance(model, OnnxFaceHealthModel):
        names = [t.name for t in model.tasks]
        return lambda x: model.session.run(names, {"images": x})

    def run(x: np.ndarray) -> object:
        with torch.no_grad():
            return model.model.predict(model.model(torch.from_numpy(x)))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="fine-tuned checkpoint; default: random weights")
    parser.add_argument("--backbone", default="vit_tiny_patch16")
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=200, help="batch-1 latency repetitions")
    parser.add_argument("--photo-reps", type=int, default=20, help="full-path repetitions")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "onnx_inference.json")
    args = parser.parse_args()

    import facehealth
    from facehealth.faces.io import read_image
    from facehealth.models.onnx_export import export_onnx
    from facehealth.models.onnx_predictor import load_onnx
    from facehealth.models.predictor import pixel_batch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ckpt = args.model or _checkpoint(folder, args.backbone, args.img_size)
        models = {"torch eager": facehealth.load(ckpt)}
        meta = models["torch eager"].meta
        for label, int8 in (("ORT float32", False), ("ORT int8", True)):
            exported = export_onnx(ckpt, folder / f"model-{int(int8)}.onnx", int8=int8)
            models[label] = load_onnx(exported.path, threads=args.threads)
        photo = read_image(PHOTO)
        crop = pixel_batch(models["torch eager"].prepare(photo).crops)  # (1, 3, H, W): the photo's face
        batch = np.repeat(crop, args.batch, 0)  # (B, 3, H, W)
        expected = {k: np.asarray(v) for k, v in _heads(models["torch eager"])(crop).items()}
        rows = []
        for label, model in models.items():
            heads = _heads(model)
            lat = _times_ms(lambda h=heads: h(crop), args.reps, warmup=10)
            full = _times_ms(lambda m=model: m.predict(photo), args.photo_reps, warmup=2)
            thr = _times_ms(lambda h=heads: h(batch), max(3, args.reps // 40), warmup=1)
            out = heads(crop)
            got = dict(out) if isinstance(out, dict) else dict(zip(expected, out))
            diff = max(float(np.abs(np.asarray(got[k]) - expected[k]).max()) for k in expected)
            rows.append(
                {
                    "backend": label,
                    "heads_p50_ms": float(np.percentile(lat, 50)),
                    "heads_p95_ms": float(np.percentile(lat, 95)),
                    "photo_p50_ms": float(np.percentile(full, 50)),
                    "photo_p95_ms": float(np.percentile(full, 95)),
                    "batch_crops_per_s": args.batch / (float(np.median(thr)) / 1e3),
                    "max_abs_diff_vs_torch": diff,
                }
            )
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} threads"
    title = f"{meta.backbone} at {meta.img_size} px, {len(meta.tasks)} heads"
    print(f"### {title}\n\n{machine}; torch {torch.__version__}; {dt.date.today().isoformat()}\n")
    print(
        "| backend | heads p50 (ms) | heads p95 (ms) | photo -> result p50 (ms) | photo -> result p95 (ms) "
        f"| batch {args.batch} (crops/s) | max abs diff vs torch |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['backend']} | {r['heads_p50_ms']:.2f} | {r['heads_p95_ms']:.2f} | {r['photo_p50_ms']:.0f} "
            f"| {r['photo_p95_ms']:.0f} | {r['batch_crops_per_s']:.0f} | {r['max_abs_diff_vs_torch']:.2g} |"
        )
    record = {"model": title, "machine": machine, "date": dt.date.today().isoformat(), "rows": rows}
    args.out.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
