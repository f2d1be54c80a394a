#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# k8s_manifests: hooks/kubernetes/ checked without a cluster (k8s_manifests.py says what):
# the manifests parse as YAML, the DaemonSet's hooks.d files run the uswap-hook it installs
# (its install script is run on a scratch tree with this build's binaries), the Containerfile
# builds what the manifests use, and the pod example's annotations pass uswap-hook.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init --no-root
[[ -n ${USWAP_HOOK:-} && -x ${USWAP_HOOK:-} ]] ||
	fail "USWAP_HOOK='${USWAP_HOOK:-}' is not an executable"
command -v python3 >/dev/null || fail "python3 is not installed (tests/deps.sh installs it)"
python3 -c 'import yaml' 2>/dev/null ||
	fail "python3-yaml is not installed (tests/deps.sh installs it)"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
python3 "$here/k8s_manifests.py" "$root/hooks/kubernetes" "$root/hooks/hooks.d" \
	"$USWAP_HOOK" "$USWAP_SHIM" "$T"
