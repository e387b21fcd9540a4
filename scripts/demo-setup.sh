#!/usr/bin/env bash
# Build the demo warehouse and publish the nine datasets into the demo store, then verify every
# file against the manifest. One script for `make demo` and Binder's postBuild.
#
#   SCOUT_DEMO_STORE      the store folder (default: .scout/store/sample under the current folder)
#   SCOUT_DEMO_WAREHOUSE  the SQLite warehouse (default: .scout/demo/warehouse.sqlite here)
#   SCOUT_DEMO_SCALE      warehouse size factor (default 1)
#
# `scout demo` records the warehouse beside the store (scout-demo.json), so a Jupyter server
# started from any folder re-publishes the demo from it. Re-running is cheap: an unchanged
# warehouse is not rebuilt and unchanged data uploads nothing.
set -euo pipefail
store="${SCOUT_DEMO_STORE:-.scout/store/sample}"
warehouse="${SCOUT_DEMO_WAREHOUSE:-.scout/demo/warehouse.sqlite}"
scale="${SCOUT_DEMO_SCALE:-1}"
command -v scout >/dev/null 2>&1 || { echo "demo-setup: no \`scout\` command on PATH: install scout-jupyter first" >&2; exit 1; }
scout demo --store "$store" --warehouse "$warehouse" --scale "$scale"
scout verify --store "$store" >/dev/null
echo "demo store ready: $store"
