// Package sdnotify speaks the systemd notify protocol for the daemon:
// READY=1 once listening, RELOADING=1 with MONOTONIC_USEC when a reload
// starts (then READY=1 when it ends), STOPPING=1 on stop, and WATCHDOG=1
// pings while WatchdogSec is set.
//
// Every function is a no-op when NOTIFY_SOCKET is unset, so the daemon calls
// them unconditionally. Messages go through
// github.com/coreos/go-systemd/v22/daemon.
package sdnotify

import (
	"context"
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Notifier sends notify messages. The zero value sends to the socket named
// by NOTIFY_SOCKET; Send replaces the transport in tests.
type Notifier struct {
	// Send delivers one message; nil means daemon.SdNotify. It reports
	// whether the message was sent (false when NOTIFY_SOCKET is unset).
	Send func(state string) (bool, error)
}

func (n *Notifier) send(state string) error {
	send := n.Send
	if send == nil {
		send = func(s string) (bool, error) { return daemon.SdNotify(false, s) }
	}
	_, err := send(state)
	if err != nil {
		return fmt.Errorf("sd_notify %q: %w", firstLine(state), err)
	}
	return nil
}

// Ready tells systemd that start-up, or a reload, is complete.
func (n *Notifier) Ready() error { return n.send(daemon.SdNotifyReady) }

// Stopping tells systemd that the daemon is shutting down.
func (n *Notifier) Stopping() error { return n.send(daemon.SdNotifyStopping) }

// Reloading tells systemd that a reload has started. RELOADING=1 and
// MONOTONIC_USEC travel in one message, as Type=notify-reload requires
// (systemd ≥ 253 waits for a RELOADING=1 newer than the reload request).
func (n *Notifier) Reloading() error {
	usec, err := MonotonicUsec()
	if err != nil {
		return err
	}
	return n.send(ReloadingMessage(usec))
}

// ReloadingMessage is the message Reloading sends at CLOCK_MONOTONIC usec.
func ReloadingMessage(usec int64) string {
	return fmt.Sprintf("%s\nMONOTONIC_USEC=%d", daemon.SdNotifyReloading, usec)
}

// MonotonicUsec reads CLOCK_MONOTONIC in microseconds, the clock systemd
// compares MONOTONIC_USEC with.
func MonotonicUsec() (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("clock_gettime(CLOCK_MONOTONIC): %w", err)
	}
	return ts.Sec*1_000_000 + ts.Nsec/1_000, nil
}

// WatchdogInterval is how often to send WATCHDOG=1: half of WatchdogSec, or
// 0 when systemd has not enabled the watchdog for this process.
func WatchdogInterval() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0, err
	}
	return d / 2, nil
}

// Watchdog sends WATCHDOG=1 every interval until ctx ends. onErr, when not
// nil, receives send failures. It returns at once when interval <= 0.
func (n *Notifier) Watchdog(ctx context.Context, interval time.Duration, onErr func(error)) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := n.send(daemon.SdNotifyWatchdog); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
