#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the browser system test.
# Usage: infra/local/chromium.sh {install|status}
#   install  apt-get install chromium chromium-driver when either is missing (needs root)
#   status   exit 0 when both are installed, printing their versions
set -euo pipefail

FQ_SERVICE=chromium
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

installed() { [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; }

case "${1:-}" in
  install)
    if installed; then
      fq_log "already installed"
    else
      fq_apt_install chromium chromium-driver fonts-dejavu-core
    fi
    ;;
  status)
    installed || { fq_log "not installed"; exit 3; }
    /usr/bin/chromium --version 2> /dev/null || true
    /usr/bin/chromedriver --version 2> /dev/null || true
    ;;
  *)
    echo "usage: $0 {install|status}" >&2
    exit 2
    ;;
esac
