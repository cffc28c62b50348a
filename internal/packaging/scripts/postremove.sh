#!/bin/sh
# eventrouter package: after removal. The unit runs as a DynamicUser and
# keeps no state directory, so there is no user and no data to remove.
# On purge (deb) dpkg removes the conffiles; this removes what the docs
# tell the operator to add beside them, and the directory.
set -e
case "$1" in
purge)
	rm -f "${DPKG_ROOT:-}/etc/eventrouter/eventrouter.env"
	rmdir "${DPKG_ROOT:-}/etc/eventrouter" 2>/dev/null || true
	;;
esac
if [ -d "${DPKG_ROOT:-}/run/systemd/system" ] && command -v systemctl >/dev/null; then
	systemctl daemon-reload || true
fi
exit 0
