"""Resume state of a training run: written once per epoch as one crash-safe commit, checked on load.

Both engines keep, beside their outputs, a torch file with everything an epoch boundary needs to
continue exactly (weights, optimizer, RNG, history, early-stopping bookkeeping). It is committed
together with the files that must agree with it (pretraining: ``checkpoint-last.*`` and
``metrics.jsonl``) through :func:`facehealth.atomic.commit_group`, so a ``kill -9`` at any moment
leaves the state of the last finished epoch or of the one being saved, never a mixture, and a file
damaged later is refused by its hash instead of being trained on.

The commit record also stores the run's config. Resuming with a different one would splice two
runs into one curve, so it is an error naming the keys that differ; the keys in
:data:`RESUMABLE_CHANGES` may change (a longer run, another device or worker count).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from facehealth.atomic import GroupRecovery, commit_group, recover_group, staged
from facehealth.errors import ConfigError

__all__ = ["COMMIT_RECORD", "RESUMABLE_CHANGES", "commit_state", "read_state", "recover"]

COMMIT_RECORD = "commit.json"
RESUMABLE_CHANGES = frozenset({"epochs", "resume", "device", "num_workers", "out_dir"})


def recover(out: Path) -> GroupRecovery | None:
    """Finish or undo a commit a crash interrupted and verify the committed files (rank 0 only)."""
    return recover_group(out / COMMIT_RECORD)


def _plain(config: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(config), default=str))


def read_state(out: Path, name: str, config: Mapping[str, Any], device: torch.device) -> dict[str, Any] | None:
    """The committed state ``out/name``, or None when no epoch was committed yet.

    Call after :func:`recover`. Raises ConfigError when the run was started with another config.
    """
    record = out / COMMIT_RECORD
    if not record.is_file():
        return None
    data = json.loads(record.read_text())
    if name not in data.get("files", {}):
        return None
    saved = data.get("info", {}).get("config", {})
    current = _plain(config)
    differ = sorted(
        k for k in set(saved) | set(current) if k not in RESUMABLE_CHANGES and saved.get(k) != current.get(k)
    )
    if differ:
        raise ConfigError(
            f"{out} holds an unfinished run started with another config (differs in: {', '.join(differ)}); "
            "use another output folder, delete this one, or set resume: false"
        )
    return torch.load(out / name, map_location=device, weights_only=True)


def commit_state(
    out: Path,
    name: str,
    state: Mapping[str, Any],
    config: Mapping[str, Any],
    staged_files: Sequence[Path] = (),
    info: Mapping[str, Any] | None = None,
) -> None:
    """Write ``state`` as ``out/name`` and commit it with ``staged_files`` (already written to their
    :func:`~facehealth.atomic.staged` paths) as one group."""
    torch.save(dict(state), staged(out / name))
    commit_group(out / COMMIT_RECORD, [*staged_files, out / name], {"config": _plain(config), **(info or {})})
