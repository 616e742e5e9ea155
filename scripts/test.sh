#!/usr/bin/env bash
# Runs the whole test suite (lint + build + unit and integration tests):
#   scripts/test.sh [filter]   (a filter keeps test files whose path contains it)
# First installs what is missing: the Debian packages the integration tests use (one
# `apt-get update`, only when something is missing) and the npm packages (`npm ci` when
# node_modules is absent or does not match package-lock.json). Exits with the test status.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WALNUT_SCRIPT=test
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

walnut_require_node
walnut_ensure_packages "${WALNUT_TEST_PACKAGES[@]}"
walnut_ensure_node_modules

walnut_log "npm test $*"
status=0
if (($# > 0)); then
  npm test -- "$@" || status=$?
else
  npm test || status=$?
fi
if ((status == 0)); then
  walnut_log "tests passed"
else
  walnut_log "tests FAILED (exit status $status)"
fi
exit "$status"
