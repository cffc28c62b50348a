#!/bin/sh
# eventrouter package: before removal (deb: remove; rpm: 0). An upgrade
# (deb: upgrade; rpm: 1) leaves the running daemon alone.
set -e
case "$1" in
remove | 0)
	if [ -d "${DPKG_ROOT:-}/run/systemd/system" ] && command -v systemctl >/dev/null; then
		systemctl stop eventrouter.service || true
		systemctl disable eventrouter.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
