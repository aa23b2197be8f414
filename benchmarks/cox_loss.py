"""Cox partial likelihood (Efron ties) at scale: loss + gradient time, and parity with a reference.

    python benchmarks/cox_loss.py [--sizes 1000 10000 100000] [--repeats 3] [--doc docs/benchmarks.md | --no-doc]

For each N, twice: survival data with continuous times, and with times on a quarter-unit grid (so
events share times). The loss and its gradient with ``facehealth.models.losses.cox_partial_likelihood``
(one sort plus cumulative sums), the median of ``--repeats`` runs; at N <= 10,000 also the
per-event-time loop it replaced, and the largest |difference| between the two losses. The table,
under its command, the machine and the date, is printed and written between the ``cox-loss``
markers of ``--doc``; the rows also go to JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from facehealth.docblocks import add_doc_arguments, check_block, provenance, write_block
from facehealth.models.losses import cox_partial_likelihood

REPO = Path(__file__).resolve().parents[1]
BLOCK = "cox-loss"  # the marker name of this script's table in docs/benchmarks.md
LOOP_MAX_N = 10000  # the loop is O(events x N): beyond this it takes minutes


def _loop(risk: torch.Tensor, t: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    e = e.bool()
    shift = risk.detach().max()
    exp_r = torch.exp(risk - shift)
    total = risk.new_zeros(())
    for u in torch.unique(t[e]):
        tied = e & (t == u)
        d = int(tied.sum())
        denominator = exp_r[t >= u].sum() - torch.arange(d, dtype=risk.dtype) / d * exp_r[tied].sum()
        total = total + risk[tied].sum() - (torch.log(denominator) + shift).sum()
    return -total / e.sum()


def _time(fn, risk: torch.Tensor, t: torch.Tensor, e: torch.Tensor, repeats: int) -> tuple[float, float]:
    seconds = []
    for _ in range(repeats):
        r = risk.detach().clone().requires_grad_(True)
        start = time.perf_counter()
        loss = fn(r, t, e)
        loss.backward()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), loss.item()


def measure(n: int, ties: bool, repeats: int) -> dict:
    """One row: N, events, the sorted loss's median seconds and, up to LOOP_MAX_N, the loop's and the difference."""
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    times = rng.exponential(1 / np.exp(0.8 * x))
    t = torch.tensor(np.ceil(times * 4) / 4 if ties else times)
    e = torch.tensor((rng.random(n) < 0.7).astype(float))
    risk = torch.tensor(0.8 * x)
    fast, loss = _time(cox_partial_likelihood, risk, t, e, repeats)
    row = {"n": n, "ties": ties, "events": int(e.sum()), "sorted_s": fast, "loop_s": None, "max_abs_diff": None}
    if n <= LOOP_MAX_N:
        slow, reference = _time(_loop, risk, t, e, 1)
        row |= {"loop_s": slow, "max_abs_diff": abs(loss - reference)}
    return row


def block(argv: list[str], rows: list[dict], repeats: int) -> str:
    """The provenance line and one table row per (times, N)."""
    lines = [
        f"{provenance(argv)}; {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"loss + gradient, float64, median of {repeats}.",
        "",
        "| times | N (events) | sorted + cumulative sums | per-event loop | max abs diff |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        loop = "not run" if r["loop_s"] is None else f"{1000 * r['loop_s']:,.1f} ms"
        diff = "—" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.1e}"
        kind = "tied" if r["ties"] else "continuous"
        lines.append(f"| {kind} | {r['n']:,} ({r['events']:,}) | {1000 * r['sorted_s']:,.1f} ms | {loop} | {diff} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/cox_loss.json"))
    add_doc_arguments(parser, REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.doc:
        check_block(args.doc, BLOCK)  # before the measurement, not after
    rows = [measure(n, ties, args.repeats) for ties in (False, True) for n in args.sizes]
    text = block(sys.argv, rows, args.repeats)
    print(text)
    args.out.write_text(json.dumps({"rows": rows}, indent=2))
    if args.doc:
        write_block(args.doc, BLOCK, text)


if __name__ == "__main__":
    main()
