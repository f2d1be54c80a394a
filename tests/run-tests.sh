#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install dependencies, configure, build with -Werror and run every CTest test.
# Usage: tests/run-tests.sh [ctest arguments...]   e.g. tests/run-tests.sh -R unit
# Environment: USWAP_BUILD_DIR (default build/), USWAP_SKIP_DEPS=1 to not call deps.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [[ ${USWAP_SKIP_DEPS:-0} != 1 ]]; then
	bash tests/deps.sh
fi

build=${USWAP_BUILD_DIR:-build}
cmake -S . -B "$build" -DUSWAP_WERROR=ON
cmake --build "$build" -j2

status=0
ctest --test-dir "$build" --output-on-failure "$@" || status=$?
exit "$status"
