#!/bin/sh
# eventrouter package: after install or upgrade (deb: configure; rpm: 1 or 2).
# Makes systemd see the unit file. The service is neither enabled nor
# started: edit /etc/eventrouter/config.yaml, then
#   systemctl enable --now eventrouter
# An upgrade does not restart a running daemon: systemctl restart eventrouter.
set -e
if [ -d "${DPKG_ROOT:-}/run/systemd/system" ] && command -v systemctl >/dev/null; then
	systemctl daemon-reload || true
fi
exit 0
