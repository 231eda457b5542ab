"""infra/template.yaml grants exactly what the code calls, on named resources only."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import boto3
import pytest
import re2

from investigator.automation import notify, store, sweep

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
COLLECTOR_SERVICES = {"stepfunctions": "states", "sagemaker": "sagemaker", "logs": "logs",
                      "ecr": "ecr", "cloudwatch": "cloudwatch"}
# Granted without being called today: the brief's list includes FilterLogEvents for the
# logs collector (same log groups, read-only).
ALLOWED_EXTRA = {"logs:FilterLogEvents"}
_CALL = re2.compile(r"\.([a-z][a-z_]+)\(")
# Client method names that are also everyday Python/regex methods (`pattern.search(...)`).
_AMBIGUOUS = {"search"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    from cfnlint.decode import decode

    data, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return data


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    [policy] = template["Resources"]["FunctionRole"]["Properties"]["Policies"]
    out = []
    for st in policy["PolicyDocument"]["Statement"]:
        if "Fn::If" in st:  # conditional statement: the "true" branch
            st = st["Fn::If"][1]
        out.append(st)
    return out


def _actions(st: dict[str, Any]) -> list[str]:
    return [st["Action"]] if isinstance(st["Action"], str) else list(st["Action"])


def _called(paths: list[Path], services: dict[str, str]) -> set[str]:
    """IAM actions for every client method of `services` named in the given sources."""
    methods = {m for p in paths for m in _CALL.findall(p.read_text(encoding="utf-8"))}
    methods -= _AMBIGUOUS
    actions = set()
    for service, prefix in services.items():
        client = boto3.client(service, region_name="us-east-1")
        mapping = client.meta.method_to_api_mapping
        actions |= {f"{prefix}:{mapping[m]}" for m in methods if m in mapping}
    return actions


def test_read_permissions_are_exactly_what_the_collectors_call(template):
    sources = sorted((ROOT / "investigator" / "collectors").glob("*.py"))
    sources.append(ROOT / "investigator" / "pipeline.py")
    called = _called(sources, COLLECTOR_SERVICES)
    granted = {a for st in _statements(template) for a in _actions(st)
               if a.split(":")[0] in COLLECTOR_SERVICES.values()}
    granted -= {"logs:CreateLogStream", "logs:PutLogEvents"}  # the function's own log group
    assert called, "no collector calls found: is the regex still right?"
    assert called <= granted, f"missing from the role: {sorted(called - granted)}"
    assert granted - called <= ALLOWED_EXTRA, f"granted but never called: {sorted(granted - called)}"


def test_automation_permissions_cover_its_own_calls(template):
    paths = [Path(m.__file__) for m in (store, sweep, notify)]
    called = _called(paths, {"s3": "s3", "ssm": "ssm", "sns": "sns", "stepfunctions": "states",
                             "sagemaker": "sagemaker"})
    granted = {a for st in _statements(template) for a in _actions(st)}
    assert called == {"s3:PutObject", "s3:GetObject", "ssm:GetParameter", "ssm:PutParameter",
                      "sns:Publish", "states:ListExecutions", "sagemaker:ListTrainingJobs",
                      "sagemaker:ListProcessingJobs"}
    assert called <= granted


def test_no_wildcard_resource_except_where_aws_has_no_resource_level_permissions(template):
    for st in _statements(template):
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if "*" in resources:
            assert set(_actions(st)) <= {"sagemaker:ListTrainingJobs",
                                         "sagemaker:ListProcessingJobs",
                                         "cloudwatch:GetMetricData"}, st["Sid"]
        assert st["Effect"] == "Allow"
        assert not any(a.endswith("*") or a.split(":")[1].startswith(("Put", "Delete", "Create",
                                                                        "Update", "Start",
                                                                        "Stop"))
                       for a in _actions(st)
                       if a.split(":")[0] in COLLECTOR_SERVICES.values()
                       and st["Sid"] != "OwnLogs"), st["Sid"]


def test_the_handler_named_in_the_template_exists(template):
    props = template["Resources"]["InvestigatorFunction"]["Properties"]
    module, _, name = props["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    assert props["CodeUri"] == "../dist/investigator-lambda.zip"
    assert (TEMPLATE.parent / props["CodeUri"]).resolve() == ROOT / "dist" / "investigator-lambda.zip"


def test_the_bucket_is_private_encrypted_tls_only_and_expires_reports(template):
    res = template["Resources"]
    bucket = res["ReportBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    [deny] = [s for s in res["ReportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
              if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert any(r.get("Prefix") == "reports/" and "ExpirationInDays" in r for r in rules)


def _rules(template: dict[str, Any]) -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
    """(source, detail-type) → (pattern, where it goes): the function or the job queue."""
    out = {}
    events = template["Resources"]["InvestigatorFunction"]["Properties"]["Events"]
    for e in events.values():
        if e["Type"] == "EventBridgeRule":
            p = e["Properties"]["Pattern"]
            out[(p["source"][0], p["detail-type"][0])] = (p, "function")
    for res in template["Resources"].values():
        if res["Type"] == "AWS::Events::Rule":
            p = res["Properties"]["EventPattern"]
            [target] = res["Properties"]["Targets"]
            out[(p["source"][0], p["detail-type"][0])] = (p, target["Arn"]["Fn::GetAtt"][0])
    return out


def test_every_event_the_handler_parses_is_routed_to_it(template):
    """Each detail-type parse_event turns into a Failure has a rule with its failed status;
    job events go through the delay queue the function consumes."""
    from investigator.automation import events

    rules = _rules(template)
    assert set(rules) == {("aws.states", events.SFN_DETAIL_TYPE),
                          ("aws.sagemaker", events.SAGEMAKER_TRAINING_DETAIL_TYPE),
                          ("aws.sagemaker", events.SAGEMAKER_PROCESSING_DETAIL_TYPE)}
    assert rules[("aws.states", events.SFN_DETAIL_TYPE)][1] == "function"
    processing, where = rules[("aws.sagemaker", events.SAGEMAKER_PROCESSING_DETAIL_TYPE)]
    assert where == "JobEventQueue"
    assert processing["detail"] == {"ProcessingJobStatus": ["Failed"]}
    [prefix] = processing["resources"]
    assert ":processing-job/${ProcessingJobNamePrefix}" in prefix["prefix"]["Fn::Sub"]
    assert rules[("aws.sagemaker", events.SAGEMAKER_TRAINING_DETAIL_TYPE)][1] == "JobEventQueue"


def test_job_events_wait_in_a_delay_queue_the_function_consumes(template):
    res = template["Resources"]
    queue = res["JobEventQueue"]["Properties"]
    assert queue["DelaySeconds"] == {"Ref": "JobPageDeferSeconds"}
    assert template["Parameters"]["JobPageDeferSeconds"]["Default"] == 30
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert queue["VisibilityTimeout"] >= 6 * res["InvestigatorFunction"]["Properties"]["Timeout"]
    [sqs] = [e["Properties"] for e in res["InvestigatorFunction"]["Properties"]["Events"].values()
             if e["Type"] == "SQS"]
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    granted = {a for st in _statements(template) for a in _actions(st)}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} <= granted
    env = res["InvestigatorFunction"]["Properties"]["Environment"]["Variables"]
    assert env["PROCESSING_JOB_PREFIX"] == {"Ref": "ProcessingJobNamePrefix"}
