"""Evidence bundles: a saved investigation replays offline; bad bundles get one clear line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from investigator.bundle import investigate_bundle, save_bundle
from investigator.classifier import classify
from investigator.cli import main
from investigator.models import Evidence, Gap, LogEvent, LogStream, Target

T0 = datetime(2025, 6, 25, 18, 40, tzinfo=UTC)


def _evidence() -> Evidence:
    lines = [
        "export HF_TOKEN=hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345",
        "Traceback (most recent call last):",
        '  File "/opt/ml/code/train.py", line 3, in <module>',
        "ModuleNotFoundError: No module named 'einops'",
    ]
    return Evidence(
        target=Target(kind="job", name="train-deps-1", job_kind="training"),
        facts={
            "sagemaker.job_name": "train-deps-1",
            "sagemaker.status": "Failed",
            "sagemaker.instance_type": "ml.g5.xlarge",
            "sagemaker.hyperparameters": {"lr": "0.001", "wandb_api_key": "abcdef0123456789"},
        },
        logs=[
            LogStream(
                name="train-deps-1/algo-1-1750876931",
                events=[LogEvent(message=m, timestamp=T0) for m in lines],
            )
        ],
        gaps=[
            Gap(
                source="ecr",
                code="AccessDenied",
                message="denied",
                missing_permission="ecr:DescribeImages",
            )
        ],
        api_calls=7,
    )


def test_saved_bundle_replays_the_same_diagnosis_without_secrets(tmp_path: Path):
    evidence = _evidence()
    path = save_bundle(evidence, tmp_path / "b.json")
    raw = path.read_text()
    assert "hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345" not in raw
    assert "abcdef0123456789" not in raw
    loaded, inv = investigate_bundle(path)
    live = classify(evidence)
    assert (inv.finding.category, inv.finding.rule) == (live.finding.category, live.finding.rule)
    assert inv.finding.category == "deps"
    assert loaded.gaps == evidence.gaps and inv.api_calls == 7


def test_bundle_command_renders_json(tmp_path: Path):
    path = save_bundle(_evidence(), tmp_path / "b.json")
    result = CliRunner().invoke(main, ["bundle", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert obj["category"] == "deps" and obj["job"]["name"] == "train-deps-1"
    assert obj["schema_version"]


def _write(tmp_path: Path, data: object | str) -> Path:
    p = tmp_path / "bad.json"
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ({"kind": "investigation", "schema_version": "1.0"}, "is not an evidence bundle"),
        ([1, 2, 3], "is not an evidence bundle"),
        ({"kind": "evidence", "schema_version": "2.0", "target": {}}, "schema_version 2.0"),
        (
            {"kind": "evidence", "schema_version": "1.0", "target": {"kind": "moon", "name": "x"}},
            "invalid bundle at target.kind",
        ),
    ],
)
def test_bad_bundles_get_one_line_and_exit_2(tmp_path: Path, content, message):
    path = _write(tmp_path, content)
    result = CliRunner().invoke(main, ["bundle", str(path)])
    assert result.exit_code == 2
    err = result.stderr.strip()
    assert err.startswith("investigate: error:") and "\n" not in err
    assert message in err


def test_missing_bundle(tmp_path: Path):
    result = CliRunner().invoke(main, ["bundle", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "No such file or directory" in result.stderr
