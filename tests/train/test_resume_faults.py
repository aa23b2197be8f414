"""Training killed anywhere resumes to the uninterrupted result; damaged checkpoints are refused.

In-process crashes (an exception at a chosen rename or iteration, which like kill -9 stops every
later write) enumerate the moments deterministically; the slow tests SIGKILL a real process.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import torch

from facehealth.errors import ConfigError, CorruptFileError
from facehealth.models.checkpoint import PretrainMeta, load_checkpoint
from facehealth.train.config import OptimConfig
from facehealth.train.engine import pretrain_mae
from facehealth.train.finetune import STATE_FILE, FinetuneConfig, finetune
from facehealth.train.resume import COMMIT_RECORD, recover
from tests.conftest import SESSION_SPLITS, record_reliability, tiny_pretrain_config


class Crash(BaseException):
    """Stands for kill -9: nothing after it runs (not even ``except Exception`` handlers)."""


def _crash_at_rename(monkeypatch, folder: pathlib.Path, n: int) -> None:
    """Raise Crash at the n-th rename into ``folder`` (write-then-rename is where saves commit)."""
    real, calls = pathlib.Path.replace, {"n": 0}

    def replace(self, target):  # noqa: ANN001, ANN202
        if pathlib.Path(target).parent == folder:
            calls["n"] += 1
            if calls["n"] == n:
                raise Crash
        return real(self, target)

    monkeypatch.setattr(pathlib.Path, "replace", replace)


def _same_weights(a: pathlib.Path, b: pathlib.Path) -> bool:
    wa, _ = load_checkpoint(a, PretrainMeta)
    wb, _ = load_checkpoint(b, PretrainMeta)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def straight_mae(prepared_synth, tmp_path_factory):
    return pretrain_mae(tiny_pretrain_config(prepared_synth, tmp_path_factory.mktemp("straight") / "run"))


# An epoch's save renames: the metadata file of the config (once), then per epoch the commit
# record and the four files of the group. Crash points 7..11 fall in epoch 2's commit.
@pytest.mark.parametrize("rename", [7, 8, 9, 10, 11])
def test_pretraining_killed_while_saving_resumes_to_the_same_curve_and_weights(
    prepared_synth, straight_mae, tmp_path, monkeypatch, rename
):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        _crash_at_rename(patch, out, rename)
        with pytest.raises(Crash):
            pretrain_mae(tiny_pretrain_config(prepared_synth, out))
    recovery = recover(out)
    assert recovery.info["epoch"] == (1 if rename == 7 else 2)  # the record's rename is the commit point
    assert bool(recovery.rolled_forward) == (rename > 7)
    resumed = pretrain_mae(tiny_pretrain_config(prepared_synth, out))
    log = (out / "metrics.jsonl").read_text().splitlines()
    same = resumed.epoch_losses == straight_mae.epoch_losses and _same_weights(
        resumed.checkpoint, straight_mae.checkpoint
    )
    case = "pretraining: a crash at each of an epoch commit's 5 renames, then resume"
    note = "resumed loss curve and weights identical to an uninterrupted run" if same else "resumed run differs"
    lost, extra = max(0, 3 - len(log)), max(0, len(log) - 3)
    record_reliability(
        f"pretrain_rename_{rename}",
        "fault",
        case,
        faults=1,
        errors=int(not same),
        lost=lost,
        duplicated=extra,
        note=note,
    )
    assert same
    assert len(log) == 3, log  # one line per epoch: none lost, none repeated


def test_a_truncated_checkpoint_is_refused_not_trained_on(prepared_synth, tmp_path):
    out = tmp_path / "run"
    result = pretrain_mae(tiny_pretrain_config(prepared_synth, out, epochs=1))
    data = result.checkpoint.read_bytes()
    result.checkpoint.write_bytes(data[: len(data) // 2])  # a disk that filled up, a copy cut short
    with pytest.raises(CorruptFileError, match="do not match"):
        load_checkpoint(result.checkpoint, PretrainMeta)
    with pytest.raises(CorruptFileError, match="checkpoint-last.safetensors"):
        pretrain_mae(tiny_pretrain_config(prepared_synth, out, epochs=2))


def test_resuming_with_another_config_is_refused_but_more_epochs_are_allowed(prepared_synth, tmp_path):
    out = tmp_path / "run"
    pretrain_mae(tiny_pretrain_config(prepared_synth, out, epochs=1))
    with pytest.raises(ConfigError, match="differs in: optim"):
        pretrain_mae(tiny_pretrain_config(prepared_synth, out, epochs=2, optim=OptimConfig(base_lr=1e-4)))
    assert len(pretrain_mae(tiny_pretrain_config(prepared_synth, out, epochs=2)).epoch_losses) == 2


@pytest.fixture(scope="module")
def split_cohort(synth_cohort):
    from facehealth.data.cohort import load_cohort
    from facehealth.data.splits import make_splits, save_splits

    save_splits(make_splits(load_cohort(synth_cohort).subject_labels(), 0, **SESSION_SPLITS), synth_cohort)
    return synth_cohort


def _ft(cohort, prepared, out) -> FinetuneConfig:
    return FinetuneConfig(
        cohort=str(cohort),
        prepared=str(prepared),
        out_dir=str(out),
        backbone="vit_tiny_patch16",
        img_size=64,
        tasks=("age", "cad"),
        epochs=3,
        batch_size=32,
        optim=OptimConfig(base_lr=2e-3, warmup_epochs=0.5, betas=(0.9, 0.999)),
        device="cpu",
    )


@pytest.fixture(scope="module")
def straight_ft(split_cohort, prepared_synth, tmp_path_factory):
    return finetune(_ft(split_cohort, prepared_synth, tmp_path_factory.mktemp("ft") / "run"))


def test_a_fine_tune_killed_mid_epoch_or_while_saving_resumes_to_the_same_model(
    split_cohort, prepared_synth, straight_ft, tmp_path, monkeypatch
):
    assert not (straight_ft.out_dir / STATE_FILE).exists()  # a finished run keeps no resume state
    per_epoch = None

    def stop_in_epoch_3(done: int, total: int, _loss: float) -> None:
        nonlocal per_epoch
        per_epoch = total // 3
        if done == 2 * per_epoch + 1:
            raise Crash

    mid = tmp_path / "mid"
    with pytest.raises(Crash):
        finetune(_ft(split_cohort, prepared_synth, mid), on_progress=stop_in_epoch_3)
    saving = tmp_path / "saving"
    with monkeypatch.context() as patch:
        _crash_at_rename(patch, saving, 6)  # config, then record + state per epoch: epoch 3's record
        with pytest.raises(Crash):
            finetune(_ft(split_cohort, prepared_synth, saving))
    differ = 0
    for out in (mid, saving):
        assert (out / STATE_FILE).exists() or (out / (STATE_FILE + ".tmp")).exists()
        resumed = finetune(_ft(split_cohort, prepared_synth, out))
        differ += not (resumed.predictions.equals(straight_ft.predictions) and resumed.history == straight_ft.history)
        assert not (out / COMMIT_RECORD).exists()
    note = "predictions identical to an uninterrupted run" if not differ else f"{differ} resumed runs differ"
    case = "fine-tuning: a crash mid-epoch and one while saving, then resume"
    record_reliability("finetune_crash", "fault", case, faults=2, errors=differ, note=note)
    assert differ == 0


# A real process, really killed: the kill lands wherever the process happens to be.
MAE_SCRIPT = """
import sys
from tests.conftest import tiny_pretrain_config
from facehealth.train.engine import pretrain_mae
pretrain_mae(tiny_pretrain_config(sys.argv[1], sys.argv[2], epochs=int(sys.argv[3])))
"""


@pytest.mark.slow
def test_kill_9_during_pretraining_then_rerun_gives_the_uninterrupted_result(prepared_synth, tmp_path):
    epochs = 6
    straight = pretrain_mae(tiny_pretrain_config(prepared_synth, tmp_path / "straight", epochs=epochs))
    out = tmp_path / "killed"
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    for delay in (0.0, 0.35, 0.7):  # after the n-th commit, at different points of the next epoch
        committed = recover(out).info["epoch"] if (out / COMMIT_RECORD).exists() else 0
        proc = subprocess.Popen([sys.executable, "-c", MAE_SCRIPT, str(prepared_synth), str(out), str(epochs)], env=env)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            record = out / COMMIT_RECORD
            if record.exists() and f'"epoch": {committed + 1}' in record.read_text():
                break
            time.sleep(0.01)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    resumed = pretrain_mae(tiny_pretrain_config(prepared_synth, out, epochs=epochs))
    same = resumed.epoch_losses == straight.epoch_losses and _same_weights(resumed.checkpoint, straight.checkpoint)
    note = "resumed loss curve and weights identical" if same else "resumed run differs"
    case = "kill -9 during pretraining (3 kills), then re-run"
    record_reliability("pretrain_kill9", "fault", case, faults=3, errors=int(not same), note=note)
    assert same
