"""The benchmark scripts that write a block of docs/benchmarks.md: their markers exist and their block reads right."""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from facehealth.docblocks import check_block, read_block

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _writers() -> list[str]:
    """Scripts that declare the block they write (``BLOCK = "name"``)."""
    return sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if re.search(r"^BLOCK = ", p.read_text(), re.M))


def test_some_scripts_write_blocks():
    assert "preprocess" in _writers()


@pytest.mark.parametrize("name", _writers())
def test_every_block_a_script_writes_has_its_markers_and_a_provenance_line(name):
    block_name = re.search(r'^BLOCK = "([^"]+)"', (REPO / "benchmarks" / f"{name}.py").read_text(), re.M).group(1)
    check_block(DOC, block_name)  # raises when the markers are missing
    first = read_block(DOC.read_text(), block_name).splitlines()[0]
    assert first.startswith(f"`python benchmarks/{name}.py"), first


def test_preprocess_block_states_the_command_the_machine_and_the_speed_up():
    bench = _script("preprocess")
    rows = [
        ("facehealth, 1 worker", {"images": 100, "found": 100, "kept": 96, "seconds": 2.0, "rss": 300 * 2**20}),
        ("facehealth, 2 workers", {"images": 100, "found": 100, "kept": 96, "seconds": 1.0, "rss": 600 * 2**20}),
        ("plain dlib", {"images": 100, "found": 99, "kept": 99, "seconds": 10.0, "rss": 200 * 2**20}),
    ]
    text = bench.block(["/abs/path/benchmarks/preprocess.py", "-n", "100"], 100, rows)
    head = text.splitlines()[0]
    assert head.startswith("`python benchmarks/preprocess.py -n 100`: ")
    assert "CPU cores" in head and "10.0× as fast as plain dlib" in head
    assert "| facehealth, 2 workers | 100.0 | 100/100 | 96 | 600 | 1.0 |" in text
    without = bench.block(["preprocess.py"], 100, rows[:2])
    assert "plain dlib" not in without.splitlines()[0]


def test_synth_cohort_block_has_one_row_per_case_and_rejects_a_bad_case():
    bench = _script("synth_cohort")
    rows = [(bench.Case(200, 4, 0), 20.0), (bench.Case(20, 1, 1), 8.0)]
    text = bench.block(["benchmarks/synth_cohort.py"], rows)
    assert text.splitlines()[0].startswith("`python benchmarks/synth_cohort.py`: ")
    assert "| 200 | 4 | 0 | 20.0 | 10.0 |" in text and "| 20 | 1 | 1 | 8.0 | 2.5 |" in text
    with pytest.raises(argparse.ArgumentTypeError, match="SUBJECTS:PHOTOS:VIDEOS"):
        bench.Case.parse("200x4")


def test_cox_loss_measures_both_kinds_of_times_and_the_loop_agrees():
    bench = _script("cox_loss")
    rows = [bench.measure(300, ties, 1) for ties in (False, True)]
    assert [r["ties"] for r in rows] == [False, True]
    assert all(r["max_abs_diff"] < 1e-9 and r["loop_s"] is not None for r in rows)
    text = bench.block(["benchmarks/cox_loss.py", "--sizes", "300"], rows, 1)
    assert text.splitlines()[0].startswith("`python benchmarks/cox_loss.py --sizes 300`: ")
    assert "| continuous | 300 (" in text and "| tied | 300 (" in text


def test_pretrain_throughput_times_a_case_and_names_the_device():
    bench = _script("pretrain_throughput")
    case = bench.Case.parse("vit_tiny_patch16:32:2")
    assert case == bench.Case("vit_tiny_patch16", 32, 2)
    options = bench.Options(steps=1)
    ips = bench.measure(case, options, torch.device("cpu"))
    assert ips > 0
    text = bench.block(
        ["benchmarks/pretrain_throughput.py"], bench.device_line(torch.device("cpu"), options), [(case, ips)]
    )
    assert "CPU (" in text.splitlines()[0] and "fp32, 1 timed steps" in text.splitlines()[0]
    assert f"| MAE vit_tiny_patch16 | 32 px | 2 | {ips:.1f} |" in text
    with pytest.raises(argparse.ArgumentTypeError, match="MODEL:INPUT:BATCH"):
        bench.Case.parse("vit_tiny_patch16:large:2")


def test_onnx_inference_block_has_a_row_per_model_and_backend():
    bench = _script("onnx_inference")
    assert bench.parse_case("vit_small_patch16:112") == ("vit_small_patch16", 112)
    with pytest.raises(argparse.ArgumentTypeError, match="BACKBONE:INPUT"):
        bench.parse_case("vit_small_patch16")
    rows = [
        bench.Row("vit_tiny_patch16, 64 px", b, 6.5, 7.0, 18.0, 20.0, 782.0, d)
        for b, d in (("torch eager", 0.0), ("ORT int8", 9.2e-3))
    ]
    text = bench.block(["benchmarks/onnx_inference.py"], 2, 32, rows)
    assert text.splitlines()[0].endswith("2 threads, torch " + torch.__version__ + ".")
    assert "| vit_tiny_patch16, 64 px | ORT int8 | 6.5 | 7.0 | 18 | 20 | 782 | 9.2e-03 |" in text
    assert "batch 32 (crops/s)" in text


def test_live_block_reports_the_tracker_and_each_loop_run():
    bench = _script("live")
    runs = [
        bench.LoopRun("no model", 1800, 91.0, 2.6, 84.0, None, 72.0, 1081.0, 1102.0),
        bench.LoopRun("with a model", 1800, 85.0, 2.9, 85.0, 1.0, None, 1403.0, 1416.0),
    ]
    text = bench.block(["benchmarks/live.py", "--seconds", "60"], 60.0, 10, 453.0, runs)
    assert text.splitlines()[0].startswith("`python benchmarks/live.py --seconds 60`: ")
    assert "Tracking alone: 453 frames/s." in text
    assert "| no model | 91 | 2.6 | 84 | — | 72.0 BPM | 1081 / 1102 |" in text
    assert "| with a model | 85 | 2.9 | 85 | 1.00 | — | 1403 / 1416 |" in text
    assert bench.rss_mib() > 10


def test_affective_inputs_block_states_the_split_and_the_majority_class():
    bench = _script("affective_inputs")
    rows = [
        {
            "frame input": "landmarks",
            "pooling": "timebins",
            "pooling_text": "`timebins`, per stimulus",
            "accuracy": "0.84 [0.71, 0.95]",
            "balanced_accuracy": "0.87 [0.76, 0.96]",
            "best_epoch": 2,
        }
    ]
    text = bench.block(["benchmarks/affective_inputs.py"], rows, 0.45, {"train": 82, "val": 30, "test": 38}, 222.4)
    head = text.splitlines()[0]
    assert "150 subjects (82 train / 30 val / 38 test), 222 s in all" in head and "majority class is 45%" in head
    assert "| landmarks | `timebins`, per stimulus | 0.84 [0.71, 0.95] | 0.87 [0.76, 0.96] | 2 |" in text


def test_pretraining_benefit_block_counts_the_validation_labels_and_pairs_the_arms():
    bench = _script("pretraining_benefit")
    rows = []
    for arm, mean in (("foundation", 12.0), ("vit_scratch", 14.9), ("other", 1.0)):
        for n in (20, 60):
            rows.append(
                {
                    "arm": arm,
                    "n": n,
                    "task": "age",
                    "metric": "mae",
                    "mean": mean + n / 100,
                    "low": mean - 2,
                    "high": mean + 2,
                    "n_val": 36,
                }
            )
    text = bench.block(["benchmarks/pretraining_benefit.py"], pd.DataFrame(rows), "240 subjects")
    assert text.splitlines()[0].startswith("`python benchmarks/pretraining_benefit.py`: ")
    assert "| age (mae) | 20 + 36 | 12.20 [10.00, 14.00] | 15.10 [12.90, 16.90] |" in text
    assert "| age (mae) | 60 + 36 |" in text and "other" not in text


def test_reliability_table_cases_are_each_named_by_cohort_validate(tmp_path):
    bench = _script("reliability")
    rows = bench.table_rows(tmp_path)
    assert len(rows) == len(bench.TABLE_CASES) and all(r.ok for r in rows), [r for r in rows if not r.ok]
    text = bench.block(
        ["benchmarks/reliability.py"], rows, {"files": 1, "items": 1, "crops": 1, "unreadable": 0, "lost": 0}
    )
    assert text.splitlines()[0].startswith("`python benchmarks/reliability.py`: ") and "0 crashes" in text
