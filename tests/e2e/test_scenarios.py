"""Every demo incident, investigated through investigator.pipeline on in-process moto, gets the
category an on-call engineer needs, lands on the right state and job, and stays bounded.

All scenarios share one moto world (as on the demo server), so a collector that strays into
another job's logs or execution would show up as a wrong diagnosis here.
"""

from __future__ import annotations

import pytest

from investigator.demo.scenarios import SCENARIOS, Scenario
from investigator.demo.seed import World
from investigator.models import Target
from investigator.pipeline import investigate_target

MAX_API_CALLS = 30


def _target(s: Scenario) -> Target:
    return Target(kind=s.kind, name=s.target,  # type: ignore[arg-type]
                  job_kind=s.job_kind if s.kind == "job" else None)  # type: ignore[arg-type]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario_diagnosis(demo_world: World, scenario: Scenario) -> None:
    evidence, inv = investigate_target(_target(scenario), region=demo_world.region)
    finding = inv.finding
    assert finding.category == scenario.expected, (
        f"{scenario.name}: got {finding.category}/{finding.rule}, "
        f"alternatives {[(a.category, a.rule) for a in inv.alternatives]}")
    if scenario.failed_state:
        assert inv.failed_state == scenario.failed_state
    if scenario.job:
        assert inv.job is not None and inv.job.name == scenario.job
    gap_sources = {g.source for g in inv.gaps}
    assert set(scenario.gap_sources) <= gap_sources
    assert evidence.api_calls <= MAX_API_CALLS
    if scenario.expected not in ("none", "unknown", "capacity", "timeout", "orchestration"):
        # A log-based diagnosis cites the lines it rests on.
        assert finding.evidence, f"{scenario.name}: no cited evidence"


def test_access_denied_names_the_missing_permission_and_what_it_could_not_rule_out(
        demo_world: World) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "logs-access-denied")
    _, inv = investigate_target(_target(scenario), region=demo_world.region)
    logs_gap = next(g for g in inv.gaps if g.source == "logs")
    assert logs_gap.code == "AccessDenied"
    assert (logs_gap.missing_permission or "").startswith("logs:")
    need_logs = [i for i in inv.inconclusive if "logs" in i.missing_sources]
    assert need_logs, "rules needing logs must be listed as could-not-rule-out"
    assert all(p.startswith("logs:") for i in need_logs for p in i.missing_permissions)
    assert {i.category for i in need_logs} >= {"deps", "cuda", "resources"}


def test_healthy_execution_is_not_a_failure(demo_world: World) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "healthy")
    evidence, inv = investigate_target(_target(scenario), region=demo_world.region)
    assert inv.finding.category == "none"
    assert evidence.facts.get("sfn.status") == "SUCCEEDED"
    # The log holds a handled "CUDA out of memory" retry; it must not become the finding.
    assert not any(a.category == "resources" and a.confidence >= inv.finding.confidence
                   for a in inv.alternatives)
