#!/bin/sh
# nymwatch is not started or enabled here: it needs tokens and a reviewed
# configuration first (see /etc/nymwatch/nymwatch.yml).
set -e
# DPKG_ROOT: installed into another root (dpkg --root): leave this system be.
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = "configure" ] && [ -z "$2" ]; then
	echo "nymwatch: edit /etc/nymwatch/nymwatch.yml and create the tokens it names, then: systemctl enable --now nymwatch"
fi
exit 0
