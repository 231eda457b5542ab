"""Summary table of the sample-log reports `make demo` wrote with `investigate log`.

`python -m investigator.demo.samples reports/logs` reads the JSON reports (written by the
real CLI) and prints one line per sample log.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "reports/logs")
    reports = sorted(folder.glob("*.json"))
    if not reports:
        print(f"investigator.demo.samples: error: no JSON reports in {folder}", file=sys.stderr)
        return 2
    head = f"{'sample log':32} {'category':11} {'conf':>5}  rule"
    print(head)
    print("-" * (len(head) + 30))
    for path in reports:
        [obj] = json.loads(path.read_text())
        print(f"{path.stem:32} {obj['category']:11} {obj['confidence']:5.2f}  {obj['rule']}")
    print(f"\n{len(reports)} sample logs classified; HTML reports in {folder}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
