"""Load and validate the playbook library (one YAML rule per file)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from investigator.classifier.schema import Rule, parse_rule
from investigator.models import CATEGORIES

if TYPE_CHECKING:
    from pydantic import ValidationError


class PlaybookError(Exception):
    """A playbook file is invalid. The message names the file and the field."""


def default_playbook_dir() -> Path:
    """Playbooks ship inside the wheel; in a source checkout they sit at the repo root."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "playbooks", here.parent / "playbooks"):
        if candidate.is_dir():
            return candidate
    raise PlaybookError(f"no playbooks directory found next to {here}")


def _format_validation(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(rule)"
        parts.append(f"{loc}: {err['msg']}")
    return f"{path}: " + "; ".join(parts)


def load_rule(path: Path) -> Rule:
    import yaml  # only when the playbook cache misses (start-up time)

    # libyaml's C loader when present: parsing ~100 playbooks is most of the load time.
    yaml_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml_loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PlaybookError(f"{path}: cannot read YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise PlaybookError(f"{path}: a playbook must be a YAML mapping")
    from pydantic import ValidationError  # only on a cache miss: start-up time

    try:
        rule = parse_rule(data)
    except ValidationError as exc:
        raise PlaybookError(_format_validation(path, exc)) from None
    if rule.id != path.stem:
        raise PlaybookError(f"{path}: id: {rule.id!r} must equal the file stem {path.stem!r}")
    if path.parent.name in CATEGORIES and rule.category != path.parent.name:
        raise PlaybookError(
            f"{path}: category: {rule.category!r} does not match its folder {path.parent.name!r}"
        )
    return rule


def _rule_files(root: Path) -> Iterable[Path]:
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name not in CATEGORIES:
            raise PlaybookError(f"{folder}: unknown category folder; known: {list(CATEGORIES)}")
        yield from sorted(folder.glob("*.y*ml"))


def load_rules(root: Path | None = None) -> list[Rule]:
    """Every rule under `root`, validated; duplicate ids are an error. Cached by content."""
    from investigator.classifier.cache import cached

    root = root or default_playbook_dir()
    return cached(root, _load_rules, lambda r: isinstance(r, Rule))


def _load_rules(root: Path) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, Path] = {}
    for path in _rule_files(root):
        rule = load_rule(path)
        if rule.id in seen:
            raise PlaybookError(f"{path}: id: duplicate id {rule.id!r}, also in {seen[rule.id]}")
        seen[rule.id] = path
        rules.append(rule)
    if not rules:
        raise PlaybookError(f"{root}: no playbooks found")
    return rules
