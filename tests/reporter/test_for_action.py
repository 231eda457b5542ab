"""The report for 3 a.m.: what was not read and what to do come first, in every format.

One investigation (`blind_inv`): a CPU job whose logs could not be read (AccessDenied), a
weak unexplained verdict, nine rules left open and a last-good diff full of per-run names.
"""

from __future__ import annotations

import json
import re

import pytest

from investigator.models import Investigation
from investigator.reporter import render, view
from tests.reporter.conftest import BLIND_JOB, OPEN_RULES
from tests.reporter.test_html import Page

FORMATS = ("text", "md", "html")


def _visible(out: str) -> str:
    """What a reader sees: for HTML, the text of <main> without tags."""
    if "<main" in out:
        out = out[out.index("<main"): out.index("</main>")]
    return re.sub(r"<[^>]+>", "", out)


def _strong(inv: Investigation, **over) -> Investigation:
    f = inv.finding.replace(category="resources", rule="resources-oom-killed",
                                       confidence=0.9, confidence_label="high",
                                       remediation=["Use an instance with more memory."],
                                       **over)
    return inv.replace(finding=f)


# ------------------------------------------------------------ 1. unread sources are headline


@pytest.mark.parametrize("fmt", FORMATS)
def test_unread_logs_are_in_the_verdict_with_why_and_fix(blind_inv, fmt):
    out = _visible(render(blind_inv, fmt)) if fmt == "html" else render(blind_inv, fmt)
    head = out[: out.index("Evidence")]  # everything before the first section
    assert "CloudWatch logs" in head and "access denied" in head
    assert "logs:GetLogEvents" in head  # the IAM action that fixes it
    assert f"aws logs tail /aws/sagemaker/TrainingJobs --log-stream-name-prefix {BLIND_JOB}/" \
        in head.replace("\\", "")  # or the CLI command that reads it by hand


def test_text_says_not_read_within_the_first_lines(blind_inv):
    lines = render(blind_inv, "text").splitlines()
    assert any(line.lstrip().startswith("NOT READ: CloudWatch logs") for line in lines[:8])


def test_html_unread_alert_sits_inside_the_verdict_card(blind_inv):
    html = render(blind_inv, "html")
    card = html[html.index('<section class="verdict'): html.index("</section>")]
    assert 'role="alert"' in card and "CloudWatch logs" in card
    assert "<code>logs:GetLogEvents</code>" in card


def test_no_gap_no_alert(log_inv):
    assert view.build(log_inv).unread == []
    assert "NOT READ" not in render(log_inv, "text") and 'role="alert"' not in render(
        log_inv, "html")


# ------------------------------------------------------------ 2. could not rule out is short


def test_one_row_per_unread_source_with_the_plausible_few(blind_inv):
    [row] = view.build(blind_inv).open_sources
    assert (row.source, row.count) == ("logs", len(OPEN_RULES))
    assert 3 <= len(row.plausible) <= 5
    # A CPU instance (ml.m5.xlarge): no CUDA rule is plausible.
    assert not [r for r in row.plausible if r.category == "cuda"]
    assert {r.rule for r in row.plausible} | {r.rule for r in row.rest} == {
        r for _, r, _ in OPEN_RULES}


def test_gpu_rules_stay_plausible_on_a_gpu_instance(blind_inv):
    facts = {**blind_inv.facts, "sagemaker.instance_type": "ml.g5.xlarge"}
    facts.pop("instance.gpu_count")
    gpu = blind_inv.replace(facts=facts)
    [row] = view.build(gpu).open_sources
    assert any(r.category == "cuda" for r in row.plausible)


@pytest.mark.parametrize("fmt", FORMATS)
def test_could_not_rule_out_is_short_and_the_full_list_folds(blind_inv, fmt):
    out = render(blind_inv, fmt)
    section = out[out.index("Could not rule out"):]
    section = section[: section.index("Timeline")]
    shown = [r for _, r, _ in OPEN_RULES if r in section]
    if fmt == "text":
        assert len(shown) <= 5 and "left open" in section and "9 rules" in section
    else:  # md and html fold the rest in <details>
        before_fold = section.split("<details")[0]
        assert sum(r in before_fold for _, r, _ in OPEN_RULES) <= 5
        assert set(shown) == {r for _, r, _ in OPEN_RULES}
        assert "cuda-no-kernel-image" not in before_fold


# ------------------------------------------------------------ 4. retry advice follows evidence


@pytest.mark.parametrize("fmt", FORMATS)
def test_unexplained_or_low_confidence_says_retry_is_unknown(blind_inv, sfn_inv, fmt):
    out = render(blind_inv, fmt)
    assert "Retry: unknown" in out and "Do not retry" not in out
    weak = sfn_inv.replace(finding=sfn_inv.finding.replace(
        confidence=0.4, confidence_label="low"))
    assert "Retry: unknown" in render(weak, fmt)
    assert "Do not retry unchanged" in render(sfn_inv, fmt)  # a sure verdict keeps its advice


# ------------------------------------------------------------ 5. ordered for action


_ORDER = ("First step", "Evidence", "What changed since the last good run", "Root cause",
          "Timeline", "Raw sources")


@pytest.mark.parametrize("fmt", FORMATS)
def test_sections_come_in_the_order_an_on_call_engineer_acts(sfn_inv, fmt):
    out = _visible(render(sfn_inv, fmt))
    positions = [out.index(heading) for heading in _ORDER]
    assert positions == sorted(positions), dict(zip(_ORDER, positions, strict=True))
    first = out[out.index("First step"):][:200]
    assert "Install torch together with its CUDA companion wheels" in first


def test_raw_step_functions_and_sagemaker_text_folds_away(sfn_inv):
    html = render(sfn_inv, "html")
    raw = html[html.index('id="r1-facts"'):]
    folded = raw[raw.index("<details"): raw.index("</details>")]
    assert "SageMaker failure reason" in folded and "Step Functions error" in folded
    assert "States.TaskFailed" in folded
    md = render(sfn_inv, "md")
    assert md.index("<details><summary>SageMaker, Step Functions") > md.index("### Raw sources")


# ------------------------------------------------------------ 6. last-good diff: causes first


def test_per_run_names_and_dates_fold_and_configuration_comes_first(blind_inv):
    v = view.build(blind_inv)
    assert [r.field for r in v.changes] == ["instance_type", "hyperparameters.batch_size"]
    assert {r.field for r in v.changes_folded} == {"input_uris", "hyperparameters.run_name"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_folded_changes_are_still_there_but_out_of_the_way(blind_inv, fmt):
    out = render(blind_inv, fmt)
    section = out[out.index("What changed"): out.index("Root cause")]
    assert section.index("instance_type") < section.index("batch_size")
    assert "differ only by the run's own name or date" in section
    if fmt != "text":
        assert section.index("<details") < section.index("input_uris")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_remediation_a_change_explains_names_it(blind_inv, fmt):
    out = render(_strong(blind_inv), fmt)
    assert "the last good run used ml.g5.xlarge" in out.replace("\\_", "_")
    assert "the last good run used" not in render(blind_inv, fmt)  # unexplained: no claim


# ------------------------------------------------------------ 7. each finding links its runbook


@pytest.mark.parametrize("fmt", [*FORMATS, "json"])
def test_each_finding_links_its_runbook_page(sfn_inv, fmt):
    out = render(sfn_inv, fmt)
    page = "docs/runbook/cuda/cuda-libcusparselt-missing.md"
    if fmt == "json":
        assert json.loads(out)["runbook"] == page
    else:
        assert page in out


def test_the_runbook_base_url_comes_from_the_environment(sfn_inv, monkeypatch):
    monkeypatch.setenv(view.RUNBOOK_ENV, "https://example.org/runbook/")
    url = "https://example.org/runbook/cuda/cuda-libcusparselt-missing.md"
    hrefs = [a.get("href") for tag, a in Page(render(sfn_inv, "html")).elements if tag == "a"]
    assert url in hrefs
    assert f"]({url})" in render(sfn_inv, "md") and url in render(sfn_inv, "text")


def test_a_finding_without_a_playbook_has_no_runbook_link(none_inv):
    assert view.build(none_inv).runbook is None
    assert "docs/runbook" not in render(none_inv, "text")


# ------------------------------------------------------------ 11. labels


def test_deps_and_cuda_read_differently(log_inv, sfn_inv):
    deps, cuda = view.build(log_inv), view.build(sfn_inv)
    assert deps.family == cuda.family  # same colour family ...
    assert deps.label != cuda.label  # ... but a missing module is not a GPU problem
    assert "deps (Python dependencies)" in render(log_inv, "text")
    assert "cuda (GPU stack)" in render(sfn_inv, "text")


def test_text_wraps_to_the_width_it_is_given(sfn_inv):
    from investigator.reporter.text import render_text

    narrow = render_text(sfn_inv, width=60)
    cause = narrow[narrow.index("Root cause"): narrow.index("Remediation")]
    # Only a single word longer than the line (an image URI) may overflow: never cut.
    assert all(len(line) <= 60 or " " not in line.strip() for line in cause.splitlines())
    assert len(cause.splitlines()) > 4  # wrapped, not clipped


# ------------------------------------------------------------ 9. commands pin the image


@pytest.mark.parametrize("fmt", [*FORMATS, "json"])
def test_every_command_names_the_image_by_the_digest_it_ran(sfn_inv, fmt):
    from tests.reporter.conftest import DIGEST, IMAGE

    cmd = f"docker run --rm --gpus all {IMAGE} python -c 'import torch'"
    f = sfn_inv.finding.replace(repro=[cmd])
    out = render(sfn_inv.replace(finding=f), fmt)
    pinned = f"{IMAGE.rsplit(':', 1)[0]}@{DIGEST}"
    assert f"docker run --rm --gpus all {pinned} python -c" in out.replace("&#39;", "'")
    assert f"--gpus all {IMAGE} " not in out


def test_a_weak_verdict_missing_evidence_starts_by_getting_it(blind_inv, sfn_inv):
    assert view.build(blind_inv).first_step.startswith(
        "Get the CloudWatch logs read (grant `logs:GetLogEvents`")
    # A sure verdict keeps its own first remediation step even with a source unread.
    assert view.build(sfn_inv).first_step.startswith("Install torch together")
