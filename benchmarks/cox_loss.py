"""Cox partial likelihood (Efron ties) at scale: loss + gradient time, and parity with a reference.

    python benchmarks/cox_loss.py [--sizes 1000 10000 100000] [--repeats 3]

For each N: survival data with continuous times (``--ties``: on a quarter-unit grid, so events
share times), the loss and its gradient with
``facehealth.models.losses.cox_partial_likelihood`` (one sort plus cumulative sums), the median
of ``--repeats`` runs; at N <= 10,000 also the per-event-time loop it replaced, and the largest
|difference| between the two losses. Prints a table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from facehealth.models.losses import cox_partial_likelihood


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ties", action="store_true", help="round times to a quarter unit")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/cox_loss.json"))
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        rng = np.random.default_rng(n)
        x = rng.normal(size=n)
        times = rng.exponential(1 / np.exp(0.8 * x))
        t = torch.tensor(np.ceil(times * 4) / 4 if args.ties else times)
        e = torch.tensor((rng.random(n) < 0.7).astype(float))
        risk = torch.tensor(0.8 * x)
        fast, loss = _time(cox_partial_likelihood, risk, t, e, args.repeats)
        row = {"n": n, "events": int(e.sum()), "sorted_s": fast, "loop_s": None, "max_abs_diff": None}
        if n <= 10000:
            slow, reference = _time(_loop, risk, t, e, 1)
            row |= {"loop_s": slow, "max_abs_diff": abs(loss - reference)}
        rows.append(row)
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    kind = "tied times" if args.ties else "continuous times"
    print(f"Cox loss + gradient, float64, {kind}, median of {args.repeats} ({machine})")
    print("| N | events | sorted (s) | per-event loop (s) | max abs diff |\n|---:|---:|---:|---:|---:|")
    for r in rows:
        loop = "-" if r["loop_s"] is None else f"{r['loop_s']:.3f}"
        diff = "-" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.1e}"
        print(f"| {r['n']:,} | {r['events']:,} | {r['sorted_s']:.4f} | {loop} | {diff} |")
    args.out.write_text(json.dumps({"machine": machine, "ties": args.ties, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
