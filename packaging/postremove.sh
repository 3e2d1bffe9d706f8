#!/bin/sh
set -e
# DPKG_ROOT: installed into another root (dpkg --root): leave this system be.
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
