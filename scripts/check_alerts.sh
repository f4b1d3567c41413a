#!/usr/bin/env bash
# Checks docs/monitoring/alerts.yaml with promtool (Debian `prometheus`): the rules parse, and
# alerts_test.yaml's series fire exactly the alerts it expects, when it expects them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../docs/monitoring"
command -v promtool >/dev/null || { echo "check_alerts: promtool is missing; run scripts/install_deps.sh" >&2; exit 1; }
promtool check rules alerts.yaml
promtool test rules alerts_test.yaml
