"""Face preparation throughput: facehealth (1 and 2 workers) vs a plain dlib script.

Builds N JPEG photos at 640x480, each holding exactly one face whose width is
drawn uniformly between 40 and 200 px (crops and rescales of the public-domain
portraits: the repository's tests/fixtures/faces, plus the ones shipped in
scikit-image and matplotlib). Then, on the same files and in the same run:

- ``facehealth faces prepare`` with 1 and 2 worker processes (decode, BlazeFace,
  dlib 68 landmarks, alignment, quality gate, crop JPEG + manifest written),
  each in its own process, its peak RSS summed over the process tree;
- a plain dlib script in one process: HOG detector (upsample 1), 68-point
  predictor, ``dlib.get_face_chip`` at 224 px.

Each row reports images/s, how many images produced a face (recall: every image
holds one), and peak RSS. The table, under its command, the machine and the date, is printed
and written between the ``preprocess`` markers of ``--doc`` (docs/benchmarks.md).

    python benchmarks/preprocess.py [-n 400] [--no-baseline] [--doc docs/benchmarks.md | --no-doc]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import psutil

from facehealth.docblocks import add_doc_arguments, check_block, markdown_table, provenance, write_block

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "faces"
BLOCK = "preprocess"  # the marker name of this script's table in docs/benchmarks.md


def _sources() -> list[np.ndarray]:
    from matplotlib import cbook
    from skimage import data

    from facehealth.faces.io import read_image

    photos = [data.astronaut(), read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))]
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "obama3.jpg"):
        if (FIXTURES / name).is_file():
            photos.append(read_image(FIXTURES / name))
    return photos


def make_images(folder: Path, n: int, seed: int = 0) -> None:
    """Write ``n`` 640x480 JPEGs, one face each, face width uniform in [40, 200] px."""
    from facehealth.faces.blazeface import BlazeFaceDetector
    from facehealth.faces.io import write_image

    detector = BlazeFaceDetector()
    photos = [(p, detector.detect(p)[0].box) for p in _sources()]
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        photo, box = photos[i % len(photos)]
        scale = rng.uniform(40, 200) / box.width
        small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        # A plain border (a mirrored one would add mirrored faces) around the rescaled photo.
        fill = [int(v) for v in small.reshape(-1, 3).mean(0)]
        canvas = cv2.copyMakeBorder(small, 480, 480, 640, 640, cv2.BORDER_CONSTANT, value=fill)
        cx, cy = (box.center[0] * scale + 640, box.center[1] * scale + 480)
        # Face centre between 25% and 75% of the width, 30% and 70% of the height: always whole.
        x0 = int(np.clip(cx - rng.uniform(0.25, 0.75) * 640, 0, canvas.shape[1] - 640))
        y0 = int(np.clip(cy - rng.uniform(0.3, 0.7) * 480, 0, canvas.shape[0] - 480))
        tile = canvas[y0 : y0 + 480, x0 : x0 + 640]
        write_image(folder / f"img{i:05d}.jpg", tile, jpeg_quality=90)


def _peak_rss(proc: subprocess.Popen) -> tuple[int, float]:
    """Wait for ``proc``; return (peak RSS of its process tree in bytes, wall seconds)."""
    peak = 0
    start = time.perf_counter()
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    return peak, time.perf_counter() - start


def run_facehealth(images: Path, out: Path, workers: int) -> dict:
    cli = Path(sys.executable).with_name("facehealth")
    proc = subprocess.Popen(
        [str(cli), "faces", "prepare", str(images), "--out", str(out), "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak, wall = _peak_rss(proc)
    if proc.returncode:
        raise SystemExit(f"facehealth faces prepare failed with exit code {proc.returncode}")
    items = pd.read_parquet(out / "items.parquet")
    return {
        "images": len(items),
        "found": int((items["faces_detected"] > 0).sum()),
        "kept": int(items["crops"].sum()),
        "seconds": wall,
        "rss": peak,
    }


_PLAIN_DLIB = r"""
import sys, time, cv2, dlib, glob
from facehealth.faces.model_files import find_model_file, DLIB_LANDMARKS_68
files = sorted(glob.glob(sys.argv[1] + "/*.jpg"))
detector = dlib.get_frontal_face_detector()
predictor = dlib.shape_predictor(str(find_model_file(DLIB_LANDMARKS_68)))
found = 0
start = time.perf_counter()
for f in files:
    img = cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB)
    rects = detector(img, 1)
    if rects:
        shape = predictor(img, rects[0])
        chip = dlib.get_face_chip(img, shape, size=224)
        found += 1
print(len(files), found, time.perf_counter() - start)
"""


def run_plain_dlib(images: Path) -> dict:
    proc = subprocess.Popen([sys.executable, "-c", _PLAIN_DLIB, str(images)], stdout=subprocess.PIPE, text=True)
    holder: dict = {}
    reader = threading.Thread(target=lambda: holder.setdefault("out", proc.stdout.read()))
    reader.start()
    peak, wall = _peak_rss(proc)
    reader.join()
    n, found, _ = holder["out"].split()
    return {"images": int(n), "found": int(found), "kept": int(found), "seconds": wall, "rss": peak}


def _speed(row: dict) -> float:
    return row["images"] / row["seconds"]


def block(argv: list[str], n: int, rows: list[tuple[str, dict]]) -> str:
    """The provenance line (with the speed-up over plain dlib when it ran) and one table row per pipeline."""
    head = f"{provenance(argv)}; {n:,} JPEG photos 640×480, one face each (40–200 px wide)"
    if len(rows) == 3:  # the baseline ran
        speedup = _speed(rows[1][1]) / _speed(rows[2][1])
        head += f"; facehealth with 2 workers is {speedup:.1f}× as fast as plain dlib"
    header = ("pipeline", "images/s", "faces found", "crops kept", "peak RSS (MiB)", "wall s")
    cells = [
        (
            name,
            f"{_speed(r):.1f}",
            f"{r['found']}/{r['images']}",
            r["kept"],
            f"{r['rss'] / 2**20:.0f}",
            f"{r['seconds']:.1f}",
        )
        for name, r in rows
    ]
    return "\n".join([head + ".", "", *markdown_table(header, "lrrrrr", cells)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=400, help="number of 640x480 images")
    parser.add_argument("--work", type=Path, default=None, help="folder for images and outputs (default: temp)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the (slow) plain dlib script")
    add_doc_arguments(parser, REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.doc:
        check_block(args.doc, BLOCK)  # before the minutes of measuring, not after
    work = args.work or Path(tempfile.mkdtemp(prefix="fh-bench-"))
    images = work / "images"
    make_images(images, args.n)
    rows = [
        ("facehealth, 1 worker", run_facehealth(images, work / "out1", 1)),
        ("facehealth, 2 workers", run_facehealth(images, work / "out2", 2)),
    ]
    if not args.no_baseline:
        rows.append(("plain dlib (HOG up1 + 68pt + chip), 1 process", run_plain_dlib(images)))
    text = block(sys.argv, args.n, rows)
    print(text)
    if args.doc:
        write_block(args.doc, BLOCK, text)


if __name__ == "__main__":
    main()
