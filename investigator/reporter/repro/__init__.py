"""Repro kit: scripts that rerun the failed job locally exactly as SageMaker ran it.

`write_repro_kit` turns an Investigation (and, when available, its Evidence) into a folder:

- `repro.sh`: recreates the SageMaker container contract (`/opt/ml/input/config/*.json`,
  `/opt/ml/input/data/<channel>` with a bounded sample of each S3 channel, `/opt/ml/model`,
  `/opt/ml/output`), logs in to ECR, pulls the image by digest and runs it with the same
  platform, GPUs, entrypoint override and environment names. `./repro.sh check` runs the
  read-only `aws` commands that re-check each piece of evidence.
- `repro_local.py`: the same job through the SageMaker Python SDK's local mode.
- `config/*.json`: the container's config files, written here by Python (never echoed through
  a shell) and copied by `repro.sh`.

Every value comes from collected facts, so it is untrusted: values reach the shell only
through `shlex.quote`, and Python only through `repr`. Comments get a flattened copy.
"""

from __future__ import annotations

from investigator.reporter.repro.kit import render_scripts, write_repro_kit
from investigator.reporter.repro.model import FILL_ME, Check, ImageInfo, Plan, S3Channel, comment
from investigator.reporter.repro.plan import build_plan

__all__ = ["FILL_ME", "Check", "ImageInfo", "Plan", "S3Channel", "build_plan", "comment",
           "render_scripts", "write_repro_kit"]
