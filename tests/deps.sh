#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install what building uswap and running its tests needs (Debian/Ubuntu). Idempotent: it
# touches apt only when a package is missing.
set -euo pipefail

packages=(
	build-essential
	cmake
	pkg-config
	libseccomp-dev
	libcgroup-dev
	libyajl-dev
	liburing-dev
	libcap-dev
	libcmocka-dev
	jq
	stress-ng
	busybox-static
	runc
	podman
	python3-yaml
	gdb
)

if [[ $(id -u) -ne 0 ]]; then
	echo "deps.sh: must run as root to install packages: ${packages[*]}" >&2
	exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[[ $status == installed ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
	exit 0
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
