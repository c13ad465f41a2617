#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for chartsynth: a CJK font and Chromium (for plotly/kaleido), then .venv.
# Usage: scripts/setup.sh [EXTRAS]   e.g. "flows", "train", "dev" (everything + test tools); none: generation only.
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
# The tests' llama.cpp server (dev extra) is built from source. A native build uses every instruction the build machine
# reports (AMX on some VMs that then fault on it: the server died on its first request) and pip caches that wheel for
# the next machine, so build it portable (AVX2/FMA/F16C), uncached, once per .venv.
if [[ ",$extras," == *",dev,"* ]] && [ ! -e .venv/.llama-cpp-portable ]; then
  llama=$(grep -o '"llama-cpp-python\[server\]==[0-9.]*"' pyproject.toml | tr -d '"' | sed 's/\[server\]//')
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
    .venv/bin/python -m pip install -q --no-cache-dir --force-reinstall --no-deps "$llama"
  touch .venv/.llama-cpp-portable
fi
.venv/bin/python -m pip install -q -e ".${extras:+[$extras]}"
echo "setup done: .venv ready${extras:+ with [$extras]}, Japanese font and Chromium present" >&2
