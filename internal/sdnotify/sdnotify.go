// Package sdnotify speaks systemd's notify protocol (sd_notify(3)): one
// datagram per state change to $NOTIFY_SOCKET. About thirty lines of stdlib
// code, so no dependency.
package sdnotify

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier sends states to systemd. The zero value (no socket) is a no-op,
// so the daemon behaves the same outside systemd.
type Notifier struct {
	socket   string
	watchdog time.Duration
}

// New reads the environment through getenv (os.Getenv in production) once.
// pid is the current process id, used to honour WATCHDOG_PID.
func New(getenv func(string) string, pid int) *Notifier {
	n := &Notifier{socket: getenv("NOTIFY_SOCKET")}
	usec, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64)
	if err == nil && usec > 0 {
		wpid := getenv("WATCHDOG_PID")
		if wpid == "" || wpid == strconv.Itoa(pid) {
			n.watchdog = time.Duration(usec) * time.Microsecond
		}
	}
	return n
}

// Enabled reports whether a notify socket is configured.
func (n *Notifier) Enabled() bool { return n.socket != "" }

// WatchdogInterval is how often to ping: half of WATCHDOG_USEC, or 0 when
// the watchdog is off.
func (n *Notifier) WatchdogInterval() time.Duration { return n.watchdog / 2 }

// Notify sends one state string such as "READY=1". It returns nil when not
// running under systemd.
func (n *Notifier) Notify(state string) error {
	if n.socket == "" {
		return nil
	}
	// A leading '@' is an abstract socket; net handles that form itself.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sdnotify: dial %s: %w", n.socket, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: write: %w", err)
	}
	return nil
}

// States understood by systemd.
const (
	Ready     = "READY=1"
	Stopping  = "STOPPING=1"
	Watchdog  = "WATCHDOG=1"
	Reloading = "RELOADING=1"
)

// ReloadingState is RELOADING=1 with the MONOTONIC_USEC systemd wants with
// it (required by Type=notify-reload, harmless under Type=notify).
func ReloadingState() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return Reloading
	}
	return fmt.Sprintf("%s\nMONOTONIC_USEC=%d", Reloading, ts.Nano()/1000)
}
