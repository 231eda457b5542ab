"""`investigate fleet SOURCE` reads exactly what the tool writes: CLI reports, the Lambda's
stored reports (and not its bundles), index JSON Lines, from a folder or from S3 (moto)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from investigator.cli import main
from investigator.fleet.records import from_investigation
from investigator.fleet.sources import read_folder
from investigator.fleet.store import FleetIndex
from investigator.models import Evidence, to_json
from investigator.reporter import render
from tests.fleet.conftest import REGION, make_inv

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def fleet(*args: str) -> Any:
    return CliRunner().invoke(main, ["fleet", *args], catch_exceptions=False)


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """A folder as users build it: CLI reports in subfolders and a Lambda-like S3 sync."""
    cli = tmp_path / "cli" / "nested"
    cli.mkdir(parents=True)
    runner = CliRunner()
    for name in ("apex-build-skipped", "crlf-entrypoint"):
        res = runner.invoke(main, ["log", str(EXAMPLES / f"{name}.log"), "--format", "json",
                                   "--output", str(cli / f"{name}.json")])
        assert res.exit_code == 0, res.output
    # `investigate log a b` writes one array
    res = runner.invoke(main, ["log", str(EXAMPLES / "apex-build-skipped.log"),
                               str(EXAMPLES / "no-nvidia-driver.log"), "--format", "json",
                               "--output", str(tmp_path / "cli" / "many.json")])
    assert res.exit_code == 0, res.output
    # what the Lambda stores per failure: <name>.html, <name>.json, <name>.bundle.json
    lam = tmp_path / "lambda" / "reports" / "2025" / "06" / "01"
    lam.mkdir(parents=True)
    for seed in range(3):
        inv = make_inv(random.Random(seed))
        stem = lam / f"TrainPipeline.run-{seed}"
        Path(f"{stem}.json").write_text(render(inv, "json"))
        Path(f"{stem}.html").write_text(render(inv, "html"))
        Path(f"{stem}.bundle.json").write_text(to_json(Evidence(target=inv.target)))
    (tmp_path / "notes.json").write_text('{"hello": "world"}')  # not a report
    (tmp_path / "broken.json").write_text('{"rule": ')
    return tmp_path


def test_folder_reports_are_read_recursively_and_bundles_are_not_failures(reports):
    loaded = read_folder(reports)
    assert len(loaded.records) == 2 + 2 + 3
    assert loaded.skipped == 2  # notes.json and broken.json
    by_rule = {r.rule for r in loaded.records}
    assert {"deps-apex-extensions-missing", "deps-module-not-found"} <= by_rule
    lam = [r for r in loaded.records if r.pipeline == "TrainPipeline"]
    assert len(lam) == 3 and all(r.report.endswith(".html") for r in lam)  # links the page


def test_cli_groups_the_folder_as_json(reports):
    res = fleet(str(reports), "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    groups = {g["rule"]: g for g in doc["groups"]}
    apex = groups["deps-apex-extensions-missing"]
    assert apex["count"] == 2  # the single report and the array entry
    lam = groups["deps-module-not-found"]
    assert lam["count"] == 3 and lam["pipelines"] == ["TrainPipeline"] and len(lam["targets"]) == 3
    for g in doc["groups"]:
        assert {"fingerprint", "category", "rule", "title", "count", "first_seen", "last_seen",
                "targets", "retryable_share"} <= set(g)
    assert doc["records"] == 7 and doc["skipped"] == 2


def test_filters(reports):
    doc = json.loads(fleet(str(reports), "--format", "json", "--pipeline", "TrainPipeline").output)
    assert [g["rule"] for g in doc["groups"]] == ["deps-module-not-found"]
    doc = json.loads(fleet(str(reports), "--format", "json", "--category", "entrypoint").output)
    assert {g["category"] for g in doc["groups"]} == {"entrypoint"}
    doc = json.loads(fleet(str(reports), "--format", "json", "--since", "2100-01-01").output)
    assert doc["groups"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/folder"], "/no/such/folder: no such folder"),
        (["{tmp}", "--since", "yesterday"], "--since 'yesterday': use a duration"),
        (["ftp://x/y"], "SOURCE is a folder of JSON reports or s3://"),
        (["s3://bucket", "--athena", "primary"], "SOURCE is the Glue database"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    res = fleet(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert res.exit_code == 2
    assert res.output.startswith("investigate: error: ") and message in res.output
    assert res.output.count("\n") == 1


def test_without_pandas_the_user_is_told_how_to_install_it(reports, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas → ImportError
    res = fleet(str(reports))
    assert res.exit_code == 2
    assert res.output == ("investigate: error: investigate fleet needs pandas: "
                          "pip install 'investigator[fleet]'\n")


def test_investigate_log_does_not_import_pandas():
    code = ("import sys; from investigator.cli import main\n"
            "try:\n main(['log', sys.argv[1], '--format', 'json'])\n"
            "except SystemExit: pass\n"
            "print('pandas' in sys.modules, 'investigator.fleet.group' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(EXAMPLES / "crlf-entrypoint.log")],
                         capture_output=True, text=True, check=True, env={**os.environ})
    assert out.stdout.strip().splitlines()[-1] == "False False"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket="fleet-src")
        yield client


def test_s3_source_reads_the_index_the_lambda_writes(s3):
    index = FleetIndex(s3, "fleet-src")
    invs = [make_inv(random.Random(s)) for s in range(6)]
    invs += [make_inv(random.Random(s), module="flash_attn") for s in range(6, 8)]
    for n, inv in enumerate(invs):
        index.write_record(from_investigation(inv, failed_at=inv.job.ended, report=f"s3://fleet-src/r{n}.html"),
                           f"k{n}")
    s3.put_object(Bucket="fleet-src", Key="index/date=2025-06-01/junk.jsonl", Body=b"not json\n")
    doc = json.loads(fleet("s3://fleet-src", "--format", "json").output)
    assert [g["count"] for g in doc["groups"]] == [6, 2]
    assert doc["skipped"] == 1
    # --since lists only the date partitions it needs
    newest = max(i.job.ended for i in invs)
    since = newest.strftime("%Y-%m-%d")
    doc = json.loads(fleet("s3://fleet-src", "--format", "json", "--since", since).output)
    assert sum(g["count"] for g in doc["groups"]) == sum(
        1 for i in invs if i.job.ended.strftime("%Y-%m-%d") >= since)


def test_s3_source_that_cannot_be_read_is_one_line_exit_3(s3):
    res = fleet("s3://no-such-bucket-here/reports")
    assert res.exit_code == 3 and res.output.startswith("investigate: error: ")
    assert res.output.count("\n") == 1
