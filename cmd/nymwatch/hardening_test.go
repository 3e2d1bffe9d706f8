package main

import (
	"database/sql"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestWatchdogNeedsAWritableStore: while another process holds the
// database's write lock (as good as a read-only or full disk for every
// write nymwatch makes), /-/ready and /-/healthy answer 503 and the
// systemd watchdog is not pinged; once writes work again, both recover.
func TestWatchdogNeedsAWritableStore(t *testing.T) {
	e := newEnv(t, smallNetwork())
	cfgPath := e.writeConfig(e.config("1s", ""))
	sock := filepath.Join(e.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	states := make(chan string, 1024)
	go func() {
		defer close(states)
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			states <- string(buf[:n])
		}
	}()
	waitState := func(what string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case s := <-states:
				if s == what {
					return
				}
			case <-deadline:
				t.Fatalf("no %s", what)
			}
		}
	}
	p := startDaemonEnv(t, e, cfgPath, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=1000000")
	waitState("WATCHDOG=1")

	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, "nymwatch.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Take the write lock and keep it.
	if _, err := tx.Exec("INSERT OR REPLACE INTO kv (key, value, updated_ms) VALUES ('test.lock', x'00', 0)"); err != nil {
		t.Fatal(err)
	}
	p.waitFor(60*time.Second, "/-/ready and /-/healthy to say 503", func() bool {
		rc, rbody := p.get("/-/ready")
		hc, _ := p.get("/-/healthy")
		return rc == http.StatusServiceUnavailable && hc == http.StatusServiceUnavailable && strings.Contains(rbody, "refuses writes")
	})
	p.waitFor(30*time.Second, "the watchdog to stop", func() bool {
		return strings.Contains(p.stderr.String(), "not pinging the systemd watchdog")
	})
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	p.waitFor(60*time.Second, "/-/ready to recover", func() bool {
		code, _ := p.get("/-/ready")
		return code == http.StatusOK
	})
	// Pings sent before the lock may still be queued: drop them, then wait
	// for a fresh one.
	for len(states) > 0 {
		<-states
	}
	waitState("WATCHDOG=1")
	if !strings.Contains(p.stderr.String(), "store writes succeed again") {
		t.Errorf("recovery not logged")
	}
}
