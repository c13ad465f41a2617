#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for chartsynth: a CJK font and Chromium (for plotly/kaleido), then .venv.
# Usage: scripts/setup.sh [EXTRAS]   e.g. "llm", "train", "dev" (everything + test tools); none: generation only.
# Idempotent: rerunning only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
fc-list :lang=ja 2>/dev/null | grep -q . || need+=(fonts-ipaexfont-gothic)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "${BROWSER_PATH:-}" ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${need[@]}" fontconfig >/dev/null
  rm -rf "${HOME}/.cache/matplotlib"  # else matplotlib keeps its old font list and draws tofu
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
extras="${1:-}"
.venv/bin/python -m pip install -q -e ".${extras:+[$extras]}"
echo "setup done: .venv ready${extras:+ with [$extras]}, Japanese font and Chromium present" >&2
