from __future__ import annotations

import pandas as pd
import pytest

from facehealth.errors import ConfigError
from facehealth.studies import designs
from facehealth.studies.config import StudyConfig
from facehealth.workflow.designs import STUDY_NAMES, run_design


def test_each_name_runs_its_design_and_counts_the_rows(monkeypatch, tmp_path):
    calls = []

    def label_efficiency(cfg, on_progress=None):  # noqa: ANN001, ANN202
        calls.append(("label_efficiency", on_progress))
        return pd.DataFrame({"n": [25, 50, 100]})

    external = {"arms": {"a": {"internal_test": [1, 2], "external": {"site_c": [3], "site_d": [4, 5]}}, "b": {}}}
    monkeypatch.setattr(designs, "label_efficiency", label_efficiency)
    monkeypatch.setattr(designs, "external_validation", lambda cfg: external)
    monkeypatch.setattr(designs, "baseline_table", lambda cfg: pd.DataFrame({"arm": ["a", "b"]}))
    monkeypatch.setattr(designs, "subgroup_study", lambda cfg: pd.DataFrame({"group": list("abcd")}))
    cfg = StudyConfig(out_dir=str(tmp_path / "s"))

    def progress(done: int, total: int) -> None:
        pass

    rows = {name: run_design(name, cfg, on_progress=progress).rows for name in STUDY_NAMES}
    assert rows == {"label_efficiency": 3, "external": 5, "baselines": 2, "subgroups": 4}
    assert calls == [("label_efficiency", progress)]
    assert run_design("baselines", cfg).out_dir == tmp_path / "s"


def test_an_unknown_design_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown study 'robustness'; choose from label_efficiency, external"):
        run_design("robustness", StudyConfig())
