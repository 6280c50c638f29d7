#!/usr/bin/env bash
# Set up (if needed) and start the main job on the default config: SQLite and the local inbox/ folder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/intake run "$@"
