"""Measure the Lambda handler's peak memory and time; the numbers size infra/template.yaml.

    .venv/bin/python scripts/measure_lambda.py [--runs 3]

The demo incidents are served by a moto server on 127.0.0.1 (this process). Each measured
invocation runs in a *fresh* Python process that only imports the handler and talks to the
server through AWS_ENDPOINT_URL, so its peak RSS (VmHWM) is what a Lambda
sandbox would hold: interpreter, boto3, pydantic, re2, the playbooks and one investigation.
Per process: a cold event (imports + first event), then a warm event, then a sweep over the
demo state machines. Timings are the fastest of --runs (the machine may be busy); memory the
largest. Network latency to real AWS is not in these numbers (see docs/deploy.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "investigator-measure"
PARAMETER = "/investigator-measure/sweep-checkpoint"

# Runs in the child: time the import, a cold event, a warm event, then a sweep.
CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from investigator import lambda_handler
t_import = time.perf_counter() - t0

class Context:
    aws_request_id = "measure"
    def __init__(self): self.end = time.monotonic() + 300
    def get_remaining_time_in_millis(self): return int((self.end - time.monotonic()) * 1000)

def rss_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent
    # (here the moto server, hundreds of MB), VmHWM belongs to this program's memory only.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

events = json.load(open(sys.argv[1]))
out = {"import_s": t_import, "rss_after_import_mb": rss_mb(), "invocations": []}
for name, event in events:
    t = time.perf_counter()
    result = lambda_handler.handle(event, Context())
    out["invocations"].append({"name": name, "s": time.perf_counter() - t, "rss_mb": rss_mb(),
                               "status": result.get("status"),
                               "category": result.get("category")})
out["total_s"] = time.perf_counter() - t0
print("RESULT " + json.dumps(out))
"""


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000)


def _events(env: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """EventBridge events for the seeded incidents, shaped like the test fixtures."""
    import boto3

    from investigator.demo import scenarios as S

    fixtures = ROOT / "tests" / "fixtures" / "events"
    sfn_template = json.loads((fixtures / "sfn_execution_failed.json").read_text())
    sm_template = json.loads((fixtures / "sagemaker_training_failed.json").read_text())
    session = boto3.session.Session(region_name=env["AWS_REGION"])
    sfn = session.client("stepfunctions", endpoint_url=env["AWS_ENDPOINT_URL"])
    sm = session.client("sagemaker", endpoint_url=env["AWS_ENDPOINT_URL"])
    out = []
    for name in ("crlf-entrypoint", "max-runtime"):
        arn = S.BY_NAME[name].target
        desc = sfn.describe_execution(executionArn=arn)
        event = json.loads(json.dumps(sfn_template))
        event["region"] = env["AWS_REGION"]
        event["detail"].update(executionArn=arn, stateMachineArn=desc["stateMachineArn"],
                               name=desc["name"], startDate=_ms(desc["startDate"]),
                               stopDate=_ms(desc["stopDate"]))
        out.append((f"execution:{name}", event))
    for name in ("capacity-no-logs", "logs-access-denied"):
        job = S.BY_NAME[name].target
        desc = sm.describe_training_job(TrainingJobName=job)
        event = json.loads(json.dumps(sm_template))
        event["region"] = env["AWS_REGION"]
        event["detail"].update(TrainingJobName=job, TrainingJobArn=desc["TrainingJobArn"])
        out.append((f"job:{name}", event))
    sweep = json.loads((fixtures / "scheduled.json").read_text())
    sweep["region"] = env["AWS_REGION"]
    out.append(("sweep", sweep))
    return out


def _stack(env: dict[str, str], machines: list[str]) -> dict[str, str]:
    """The stack's own resources on the moto server, and the function's environment."""
    import boto3

    session = boto3.session.Session(region_name=env["AWS_REGION"])
    url = env["AWS_ENDPOINT_URL"]
    session.client("s3", endpoint_url=url).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": env["AWS_REGION"]})
    topic = session.client("sns", endpoint_url=url).create_topic(Name="measure")["TopicArn"]
    session.client("ssm", endpoint_url=url).put_parameter(Name=PARAMETER, Value="{}",
                                                          Type="String")
    return {"REPORT_BUCKET": BUCKET, "TOPIC_ARN": topic, "CHECKPOINT_PARAMETER": PARAMETER,
            "STATE_MACHINE_ARNS": ",".join(machines),
            "SWEEP_INITIAL_LOOKBACK_HOURS": str(24 * 3650), "SWEEP_HORIZON_HOURS": "48",
            "LOG_LEVEL": "WARNING"}


def _reset_claims(env: dict[str, str]) -> None:
    """Each run must investigate again: drop the claims and the checkpoint."""
    import boto3

    session = boto3.session.Session(region_name=env["AWS_REGION"])
    s3 = session.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    session.client("ssm", endpoint_url=env["AWS_ENDPOINT_URL"]).put_parameter(
        Name=PARAMETER, Value="{}", Type="String", Overwrite=True)


def _child(env: dict[str, str], events_file: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", CHILD, events_file], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"measure: child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from investigator.demo import scenarios as S
    from investigator.demo.server import client_env, quiet_access_log, start

    quiet_access_log()
    chosen = S.select(["crlf-entrypoint", "max-runtime", "capacity-no-logs",
                       "logs-access-denied", "bad-jsonpath", "healthy"])
    server = start(chosen)
    try:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
               **client_env(server.endpoint)}
        os.environ.update(client_env(server.endpoint))  # this process's clients: moto only
        machines = sorted({s.target.rsplit(":", 1)[0].replace(":execution:", ":stateMachine:")
                           for s in chosen if s.kind == "execution"})
        env.update(_stack(env, machines))
        env["PYTHONPATH"] = str(ROOT)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(_events(env), fh)
        runs = []
        for _ in range(args.runs):
            _reset_claims(env)
            runs.append(_child(env, fh.name))
        os.unlink(fh.name)
    finally:
        server.stop()
    _print(runs)
    return 0


def _print(runs: list[dict[str, Any]]) -> None:
    names = [i["name"] for i in runs[0]["invocations"]]
    print(f"runs: {len(runs)} (fastest time, largest memory)")
    print(f"  import handler                    {min(r['import_s'] for r in runs):6.2f} s   "
          f"rss {max(r['rss_after_import_mb'] for r in runs):6.1f} MB")
    for k, name in enumerate(names):
        inv = [r["invocations"][k] for r in runs]
        label = "cold" if k == 0 else "warm"
        print(f"  {label} {name:28} {min(i['s'] for i in inv):6.2f} s   "
              f"rss {max(i['rss_mb'] for i in inv):6.1f} MB   "
              f"{inv[0]['status']} {inv[0]['category'] or ''}")
    print(f"  process total                     {min(r['total_s'] for r in runs):6.2f} s   "
          f"peak rss {max(r['invocations'][-1]['rss_mb'] for r in runs):6.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
