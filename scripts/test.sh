#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
# The mailbox tests run against a real, throwaway Dovecot.
command -v dovecot >/dev/null 2>&1 || extra="$extra dovecot-imapd"
# The report is checked in a real headless Chromium; CJK fonts make its screenshot readable.
command -v chromium >/dev/null 2>&1 || extra="$extra chromium"
# Storage and pipeline tests run against a throwaway PostgreSQL server as well as SQLite.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || extra="$extra postgresql"
# The generated systemd unit is checked by systemd-analyze verify.
command -v systemd-analyze >/dev/null 2>&1 || extra="$extra systemd"
fc-list 2>/dev/null | grep -qi "noto sans cjk\|wenquanyi" || extra="$extra fonts-noto-cjk"
EXTRA_APT_PACKAGES="$extra" bash scripts/setup.sh test
# The tests wait on servers and child processes more than they compute: four workers on two cores
# roughly halve the time (pass -n 0 to run in one process). Each module runs whole on one worker, so that its
# module-scoped set-up (a desk, a Chromium, generated media) is built once, not once per worker.
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n 4 --dist loadfile "$@"
