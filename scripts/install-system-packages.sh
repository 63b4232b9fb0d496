#!/usr/bin/env bash
# Installs the Debian packages mifidelity needs (ffmpeg decodes recordings; sox, espeak-ng and
# flite render the sample sessions; chromium runs the report tests; postgresql runs the shared-ledger
# tests). Does nothing when they are already there.
set -euo pipefail
needed=()
command -v ffmpeg >/dev/null || needed+=(ffmpeg)
command -v sox >/dev/null || needed+=(sox)
command -v espeak-ng >/dev/null || needed+=(espeak-ng)
command -v flite >/dev/null || needed+=(flite)
# Debian's browser for the report tests (Playwright drives it; it never downloads a browser of its own).
[ -x /usr/bin/chromium ] || needed+=(chromium)
[ -x /usr/bin/chromedriver ] || needed+=(chromium-driver)
# PostgreSQL server binaries for tests/test_ledger_postgresql.py (a throwaway cluster on a Unix socket).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || needed+=(postgresql)
[ ${#needed[@]} -eq 0 ] && exit 0
echo "installing system packages: ${needed[*]}" >&2
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
