#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
# The mailbox tests run against a real, throwaway Dovecot.
command -v dovecot >/dev/null 2>&1 || extra="$extra dovecot-imapd"
EXTRA_APT_PACKAGES="$extra" bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
