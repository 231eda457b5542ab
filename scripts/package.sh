#!/usr/bin/env bash
# `make package`: build the Lambda deployment zip, dist/investigator-lambda.zip.
#
# Only the core dependencies of pyproject.toml ([project].dependencies: boto3, click,
# google-re2, jinja2, pydantic, pyyaml and what they need) are installed, as wheels built for
# the Lambda's CPU and Python (--platform/--python-version/--only-binary=:all:, so a build on
# an x86 laptop still yields aarch64 binaries). The heavy optional extras (pandas, sagemaker)
# and the test tools (moto) never enter it. Then the investigator package (without the demo,
# which needs moto) and the playbooks are copied in, and the unzipped size is checked against
# Lambda's 250 MB limit with our own, stricter budget of 50 MB.
#
# Environment: LAMBDA_ARCH=arm64|x86_64 (default arm64, as infra/template.yaml),
# LAMBDA_PYTHON=3.12 (the template's runtime), PYTHON (default .venv/bin/python),
# MAX_UNZIPPED_MB=50.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
ARCH="${LAMBDA_ARCH:-arm64}"
PYVER="${LAMBDA_PYTHON:-3.12}"
MAX_MB="${MAX_UNZIPPED_MB:-50}"
BUILD="$ROOT/build/lambda"
ZIP="$ROOT/dist/investigator-lambda.zip"

case "$ARCH" in
  arm64|aarch64) machine=aarch64 ;;
  x86_64|amd64) machine=x86_64 ;;
  *) echo "package: LAMBDA_ARCH must be arm64 or x86_64, not '$ARCH'" >&2; exit 2 ;;
esac
[ -x "$PYTHON" ] || { echo "package: $PYTHON not found (run 'make venv' first)" >&2; exit 2; }

# The core dependencies, read from pyproject.toml so this list cannot drift from it.
mapfile -t deps < <("$PYTHON" - <<'EOF'
import tomllib
with open("pyproject.toml", "rb") as fh:
    print("\n".join(tomllib.load(fh)["project"]["dependencies"]))
EOF
)
for heavy in pandas sagemaker moto duckdb; do
  if printf '%s\n' "${deps[@]}" | grep -qi "^$heavy"; then
    echo "package: '$heavy' is a core dependency in pyproject.toml; it must stay an extra" >&2
    exit 1
  fi
done

echo "package: ${#deps[@]} core dependencies for python$PYVER on $machine: ${deps[*]}"
rm -rf "$BUILD"
mkdir -p "$BUILD" "$ROOT/dist"

# Lambda's Python 3.12 runtime is Amazon Linux 2023 (glibc 2.34): manylinux_2_28 and older
# wheels run there. Listing several tags lets pip pick whichever one a project publishes.
platforms=()
for tag in manylinux2014 manylinux_2_17 manylinux_2_24 manylinux_2_28; do
  platforms+=(--platform "${tag}_${machine}")
done
# (pip's warnings about index locations missing on this machine are noise: filtered out)
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-conflicts \
  --target "$BUILD" --implementation cp --python-version "$PYVER" \
  --only-binary=:all: --upgrade "${platforms[@]}" "${deps[@]}" \
  2> >(grep -v '^WARNING: Location .* is ignored' >&2)

# The code and the playbooks (where investigator/classifier/loader.py looks in an install).
"$PYTHON" - "$BUILD" <<'EOF'
import shutil
import sys
from pathlib import Path

build = Path(sys.argv[1])
skip = shutil.ignore_patterns("__pycache__", "*.pyc", "demo")
shutil.copytree("investigator", build / "investigator", ignore=skip)
shutil.copytree("playbooks", build / "investigator" / "playbooks", ignore=skip)
EOF

# Bytecode is compiled by the runtime on first import; tests of dependencies are dead weight.
find "$BUILD" -name __pycache__ -type d -prune -exec rm -rf {} +
for forbidden in pandas sagemaker moto duckdb; do
  if [ -e "$BUILD/$forbidden" ]; then
    echo "package: $forbidden ended up in the package through a dependency" >&2
    exit 1
  fi
done

bytes=$(du -sb "$BUILD" | cut -f1)
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')

# Where the host can run the target's binaries, prove the zip is self-contained: import the
# handler and load the playbooks with nothing but the build directory on the path.
host_py=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if [ "$(uname -m)" = "$machine" ] && [ "$host_py" = "$PYVER" ]; then
  PYTHONPATH="$BUILD" "$PYTHON" -S -c '
import investigator.lambda_handler, investigator.pipeline
from investigator.classifier import default_library
print(f"package: import check ok ({len(default_library().rules)} playbooks)")'
else
  echo "package: import check skipped (target python$PYVER/$machine, host python$host_py/$(uname -m))"
fi

if awk -v b="$bytes" -v m="$MAX_MB" 'BEGIN { exit !(b > m * 1048576) }'; then
  echo "package: unzipped size ${mb} MB is over the ${MAX_MB} MB budget; no zip written" >&2
  rm -f "$ZIP"
  "$PYTHON" - "$BUILD" <<'EOF' >&2
import sys
from pathlib import Path

root = Path(sys.argv[1])
sizes = {p.name: sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
         for p in root.iterdir() if p.is_dir()}
for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:10]:
    print(f"  {size / 1048576:6.1f} MB  {name}")
EOF
  exit 1
fi

rm -f "$ZIP"
(cd "$BUILD" && zip -q -r -X -9 "$ZIP" .)
zipped=$(awk -v b="$(stat -c %s "$ZIP")" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "package: $ZIP: ${zipped} MB zipped, ${mb} MB unzipped (budget ${MAX_MB} MB)"
