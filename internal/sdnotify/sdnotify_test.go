package sdnotify

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNotifySendsDatagram(t *testing.T) {
	for _, name := range []string{"path", "abstract"} {
		t.Run(name, func(t *testing.T) {
			addr := filepath.Join(t.TempDir(), "notify.sock")
			if name == "abstract" {
				addr = "@nymwatch-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			}
			l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			n := New(env(map[string]string{"NOTIFY_SOCKET": addr}), 1)
			if !n.Enabled() {
				t.Fatal("not enabled")
			}
			if err := n.Notify(Ready); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			_ = l.SetReadDeadline(time.Now().Add(5 * time.Second))
			k, err := l.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(buf[:k]); got != "READY=1" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestNoSocketIsNoop(t *testing.T) {
	n := New(env(nil), 1)
	if n.Enabled() || n.WatchdogInterval() != 0 {
		t.Fatal("expected disabled notifier")
	}
	if err := n.Notify(Ready); err != nil {
		t.Fatal(err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want time.Duration
	}{
		{"unset", map[string]string{}, 0},
		{"ours", map[string]string{"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 15 * time.Second},
		{"no pid", map[string]string{"WATCHDOG_USEC": "2000000"}, time.Second},
		{"other pid", map[string]string{"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 0},
		{"garbage", map[string]string{"WATCHDOG_USEC": "x"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := New(env(tc.env), 42).WatchdogInterval(); got != tc.want {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
}

func TestNotifyErrorsOnMissingSocket(t *testing.T) {
	n := New(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(t.TempDir(), "none")}), 1)
	if err := n.Notify(Ready); err == nil {
		t.Fatal("expected error")
	}
}
