"""`python -m investigator.classifier`: validate the playbooks and cache them now.

For an install or image build step, so the first `investigate` run starts warm.
"""

from __future__ import annotations

from investigator.classifier.cache import cache_dir
from investigator.classifier.loader import load_rules


def main() -> int:
    rules = load_rules()
    print(f"playbook cache: {len(rules)} validated playbooks under {cache_dir()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
