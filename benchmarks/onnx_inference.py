"""Inference speed: eager torch vs ONNX Runtime float32 vs ONNX Runtime int8, on the CPU.

For one multi-task model (age / CAD / survival heads; ``--model`` a fine-tuned checkpoint, else a
randomly initialised one of ``--backbone`` at ``--img-size``: speed does not depend on the weights):

- batch-1 latency, p50 and p95, of a normalised crop tensor (1, 3, H, W) -> every head;
- the full path, p50 and p95: an RGB photo (tests/fixtures/faces/obama.jpg) -> face detection,
  landmarks, alignment, quality gate -> every head -> ``Prediction`` (``model.predict``);
- batch throughput (crops/s) at ``--batch``.

torch and ONNX Runtime both get ``--threads`` intra-op threads (2: the machine's cores). Each
``--case BACKBONE:INPUT`` (default: ViT-Ti/16 at 64 px, the quick demo's, and ViT-S/16 at 112 px) is
one random-weight model; ``--model`` times a fine-tuned checkpoint instead. The table, under its
command, the machine and the date, is printed and written between the ``onnx-inference`` markers of
``--doc``; the rows also go to ``--out`` (JSON).

    python benchmarks/onnx_inference.py [--case vit_small_patch16:112 ...] [--model CKPT]
        [--doc docs/benchmarks.md | --no-doc]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from facehealth.docblocks import add_doc_arguments, check_block, provenance, write_block
from facehealth.models.untrained import untrained_checkpoint

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "tests" / "fixtures" / "faces" / "obama.jpg"
BLOCK = "onnx-inference"  # the marker name of this script's table in docs/benchmarks.md
DEFAULT_CASES = ("vit_tiny_patch16:64", "vit_small_patch16:112")
BACKENDS = (("ORT float32", False), ("ORT int8", True))  # besides torch eager


@dataclass(frozen=True)
class Row:
    """One model in one backend: latencies in ms, batch throughput, and its largest |difference| from torch."""

    model: str
    backend: str
    heads_p50_ms: float
    heads_p95_ms: float
    photo_p50_ms: float
    photo_p95_ms: float
    batch_crops_per_s: float
    max_abs_diff_vs_torch: float


def parse_case(text: str) -> tuple[str, int]:
    """'vit_small_patch16:112' -> ('vit_small_patch16', 112)."""
    try:
        backbone, img_size = text.split(":")
        return backbone, int(img_size)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected BACKBONE:INPUT, e.g. vit_small_patch16:112") from None


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


def measure(ckpt: Path, folder: Path, threads: int, reps: int, photo_reps: int, batch_size: int) -> list[Row]:
    """Time checkpoint ``ckpt`` in eager torch and in ONNX Runtime float32 and int8 (exported into ``folder``)."""
    import facehealth
    from facehealth.faces.io import read_image
    from facehealth.models.onnx_export import export_onnx
    from facehealth.models.onnx_predictor import load_onnx
    from facehealth.models.predictor import pixel_batch

    models = {"torch eager": facehealth.load(ckpt)}
    meta = models["torch eager"].meta
    for label, int8 in BACKENDS:
        exported = export_onnx(ckpt, folder / f"{ckpt.parent.name}-{int(int8)}.onnx", int8=int8)
        models[label] = load_onnx(exported.path, threads=threads)
    photo = read_image(PHOTO)
    crop = pixel_batch(models["torch eager"].prepare(photo).crops)  # (1, 3, H, W): the photo's face
    batch = np.repeat(crop, batch_size, 0)  # (B, 3, H, W)
    expected = {k: np.asarray(v) for k, v in _heads(models["torch eager"])(crop).items()}
    name = f"{meta.backbone}, {meta.img_size} px"
    rows = []
    for label, model in models.items():
        heads = _heads(model)
        lat = _times_ms(lambda h=heads: h(crop), reps, warmup=10)
        full = _times_ms(lambda m=model: m.predict(photo), photo_reps, warmup=2)
        thr = _times_ms(lambda h=heads: h(batch), max(3, reps // 40), warmup=1)
        out = heads(crop)
        got = dict(out) if isinstance(out, dict) else dict(zip(expected, out))
        diff = max(float(np.abs(np.asarray(got[k]) - expected[k]).max()) for k in expected)
        p50, p95 = np.percentile(lat, [50, 95])
        f50, f95 = np.percentile(full, [50, 95])
        rate = batch_size / (float(np.median(thr)) / 1e3)
        rows.append(Row(name, label, float(p50), float(p95), float(f50), float(f95), rate, diff))
    return rows


def block(argv: list[str], threads: int, batch_size: int, rows: list[Row]) -> str:
    """The provenance line and one row per model and backend."""
    lines = [
        f"{provenance(argv)}; {threads} threads, torch {torch.__version__}.",
        "",
        "| model | backend | heads p50 (ms) | heads p95 (ms) | photo → result p50 (ms) | photo → result p95 (ms) "
        f"| batch {batch_size} (crops/s) | max abs diff vs torch |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.backend} | {r.heads_p50_ms:.1f} | {r.heads_p95_ms:.1f} | {r.photo_p50_ms:.0f} "
            f"| {r.photo_p95_ms:.0f} | {r.batch_crops_per_s:.0f} | {r.max_abs_diff_vs_torch:.1e} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=parse_case, action="append", help="BACKBONE:INPUT (repeatable)")
    parser.add_argument("--model", type=Path, help="a fine-tuned checkpoint instead of the random-weight cases")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=200, help="batch-1 latency repetitions")
    parser.add_argument("--photo-reps", type=int, default=20, help="full-path repetitions")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "onnx_inference.json")
    add_doc_arguments(parser, REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.doc:
        check_block(args.doc, BLOCK)  # before the measurement, not after
    torch.set_num_threads(args.threads)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.model:
            checkpoints = [args.model]
        else:
            cases = args.case or [parse_case(c) for c in DEFAULT_CASES]
            checkpoints = [untrained_checkpoint(folder / f"{b}-{s}" / "checkpoint", b, s) for b, s in cases]
        for ckpt in checkpoints:
            rows += measure(ckpt, folder, args.threads, args.reps, args.photo_reps, args.batch)
    text = block(sys.argv, args.threads, args.batch, rows)
    print(text)
    args.out.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    if args.doc:
        write_block(args.doc, BLOCK, text)


if __name__ == "__main__":
    main()
