#!/usr/bin/env bash
# One-time (idempotent) set-up on Debian/Ubuntu: system packages, then the venv with the project in it.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
for pkg in ${EXTRA_APT_PACKAGES:-}; do need_apt+=("$pkg"); done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"需要 Python 3.11 或更新版本，当前是 {sys.version.split()[0]}")
PY

# Extras to install with the project: "" for the main job, "test" for the test suite.
extras="${1:-}"
target="."
[ -z "$extras" ] || target=".[$extras]"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! .venv/bin/python -m pip install -q -e "$target" > .venv/pip-install.log 2>&1; then
  cat .venv/pip-install.log
  echo "安装依赖失败（详见上面的输出）。" >&2
  exit 1
fi
.venv/bin/python -c 'import core, intake, validators, storage' 
# Byte-compile the tool once, as an installed package is: where PYTHONDONTWRITEBYTECODE is set, every
# process (each check's MediaInfo child, every test's intake subprocess) would otherwise compile it afresh.
.venv/bin/python -m compileall -q core intake validators storage >/dev/null
