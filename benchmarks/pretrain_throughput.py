"""MAE pretraining throughput (images/s) on the current device; writes its docs/benchmarks.md block.

    python benchmarks/pretrain_throughput.py [--case vit_small_patch16:224:32 ...] [--steps 3]
        [--bf16] [--channels-last] [--compile] [--doc docs/benchmarks.md | --no-doc]

Times forward + backward + AdamW step on random images (no data loading), after two warm-up
steps, for each ``--case MODEL:INPUT:BATCH``. The default cases are ViT-Ti/16 and ViT-S/16 at
112 px (batch 64) and ViT-S/16 and ViT-B/16 at 224 px (batch 32). The table, under its command,
the machine, the device and the date, is printed and written between the ``pretrain-throughput``
markers of ``--doc``; CPU and GPU numbers are comparable only within one run's table.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from facehealth.docblocks import add_doc_arguments, check_block, provenance, write_block
from facehealth.models.mae import MaskedAutoencoder

REPO = Path(__file__).resolve().parents[1]
BLOCK = "pretrain-throughput"  # the marker name of this script's table in docs/benchmarks.md
DEFAULT_CASES = (
    "vit_tiny_patch16:112:64",
    "vit_small_patch16:112:64",
    "vit_small_patch16:224:32",
    "vit_base_patch16:224:32",
)


@dataclass(frozen=True)
class Case:
    """One timm backbone inside the MAE, its input side in pixels and its batch size."""

    model: str
    img_size: int
    batch: int

    @classmethod
    def parse(cls, text: str) -> Case:
        try:
            model, img_size, batch = text.split(":")
            return cls(model, int(img_size), int(batch))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected MODEL:INPUT:BATCH, e.g. vit_small_patch16:224:32"
            ) from None


@dataclass(frozen=True)
class Options:
    """How every case is run: timed steps and the speed options (the last three matter on a GPU)."""

    steps: int = 3
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False


def measure(case: Case, options: Options, device: torch.device) -> float:
    """Images per second of MAE training steps for ``case`` on ``device``."""
    torch.manual_seed(0)
    model = MaskedAutoencoder(case.model, img_size=case.img_size).to(device)
    if options.channels_last:
        model = model.to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if options.compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(case.batch, 3, case.img_size, case.img_size, device=device)
    if options.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=options.bf16):
            loss, _, _ = step_model(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):  # warm-up (and compilation)
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(options.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return case.batch * options.steps / (time.perf_counter() - start)


def device_line(device: torch.device, options: Options) -> str:
    """The device and the speed options, e.g. 'CPU, torch 2.14.1, fp32, 3 timed steps'."""
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    flags = ["bf16" if options.bf16 else "fp32"]
    flags += [name for name in ("channels_last", "compile") if getattr(options, name)]
    return f"{where}, torch {torch.__version__}, {' + '.join(flags)}, {options.steps} timed steps"


def block(argv: list[str], device: str, rows: list[tuple[Case, float]]) -> str:
    """The provenance line (with the device) and one row per case."""
    lines = [f"{provenance(argv)}; {device}.", "", "| model | input | batch | images/s |", "|---|---:|---:|---:|"]
    lines += [f"| MAE {c.model} | {c.img_size} px | {c.batch} | {ips:.1f} |" for c, ips in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", type=Case.parse, action="append", help="MODEL:INPUT:BATCH (repeatable)")
    parser.add_argument("--steps", type=int, default=Options.steps)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    add_doc_arguments(parser, REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.doc:
        check_block(args.doc, BLOCK)  # before the measurement, not after
    options = Options(args.steps, args.bf16, args.channels_last, args.compile)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cases = args.case or [Case.parse(c) for c in DEFAULT_CASES]
    text = block(sys.argv, device_line(device, options), [(c, measure(c, options, device)) for c in cases])
    print(text)
    if args.doc:
        write_block(args.doc, BLOCK, text)


if __name__ == "__main__":
    main()
