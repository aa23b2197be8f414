from __future__ import annotations

import ast
import json
from pathlib import Path

from facehealth.workflow.records import STAGES, RunConfig, RunRecord, config_summary

WORKFLOW = Path(__file__).parents[2] / "src" / "facehealth" / "workflow"


def test_record_saves_each_stage_and_the_finish(tmp_path):
    record = RunRecord(tmp_path, profile="quick")
    record.stage("faces", "done", 1.234, note="12 crops")
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["stages"]["faces"] == {"status": "done", "seconds": 1.23, "note": "12 crops"}
    assert saved["finished"] is None and "out_dir" not in saved and "CPU cores" in saved["machine"]
    record.finish()
    assert json.loads((tmp_path / "run.json").read_text())["finished"] == record.finished is not None


def test_config_summary_keeps_the_parts_a_report_shows():
    summary = config_summary(RunConfig())
    assert set(summary) == {"pretrain", "finetune", "affective", "n_boot", "studies"}
    assert summary["finetune"]["backbone"] == "vit_tiny_patch16" and summary["affective"] is None


def test_stages_and_run_do_not_import_each_other():
    """records is shared; stages never imports run, so run can import stages at module level."""

    def imported(name: str) -> set[str]:
        tree = ast.parse((WORKFLOW / f"{name}.py").read_text())
        return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}

    assert "facehealth.workflow.run" not in imported("stages")
    assert not {"facehealth.workflow.run", "facehealth.workflow.stages"} & imported("records")
    assert {"facehealth.workflow.records", "facehealth.workflow.stages"} <= imported("run")
    assert STAGES[0] == "faces" and STAGES[-1] == "report"
