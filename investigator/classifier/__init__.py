"""Playbook classifier: schema, loader, streaming scanner, evaluation and ranking."""

from __future__ import annotations

from investigator.classifier.engine import Library, classify, default_library
from investigator.classifier.evaluate import RuleResult, evaluate
from investigator.classifier.schema import Example, Rule
from investigator.models import Evidence, Gap, LogEvent, LogStream, Target

__all__ = ["Library", "classify", "default_library", "evaluate_example", "example_evidence"]


def example_evidence(example: Example) -> Evidence:
    """The evidence an embedded playbook example describes."""
    lines = example.log.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return Evidence(
        target=Target(kind="log", name=example.name),
        facts=dict(example.facts),
        logs=[LogStream(name="example", events=[LogEvent(message=m) for m in lines])]
        if lines
        else [],
        gaps=[
            Gap(
                source=g.source,
                code=g.code,
                message="example gap",
                missing_permission=g.missing_permission,
            )
            for g in example.gaps
        ],
    )


def evaluate_example(rule: Rule, example: Example, library: Library) -> RuleResult:
    """Evaluate one rule (only) against one of its embedded examples."""
    from investigator.classifier.engine import fact_sources, stream_source

    ev = example_evidence(example)
    sources = [*(stream_source(s) for s in ev.logs), *fact_sources(ev.facts)]
    hits = library.patterns.scan(sources)
    compiled = next(c for c in library.rules if c.rule.id == rule.id)
    return evaluate(compiled, hits, ev.facts, {g.source for g in ev.gaps})
