// Package pgtest runs a private, throwaway PostgreSQL server for tests: its
// own data directory (initdb), listening only on a Unix socket in that
// directory, with a superuser that must log in with a password (so the
// password path is exercised). Tests share one server per test binary and
// take a fresh database each (Server.NewDatabase).
//
// PostgreSQL refuses to run as root, so under uid 0 the server runs as the
// unprivileged user "nobody" with the directory handed over to it.
//
// Without the binaries (Debian: apt-get install postgresql) tests skip,
// unless NYMWATCH_REQUIRE_INTEGRATION is set, when they fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nymwatch/nymwatch/internal/testutil"
)

// superuser is the role initdb creates.
const superuser = "postgres"

// port only names the socket file: the server listens on no TCP port.
const port = 5432

// Server is a running private PostgreSQL.
type Server struct {
	dir      string // root of everything; removed by Stop
	sockDir  string
	password string
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	log      *testutil.Buffer

	mu sync.Mutex
	n  int // databases created
}

// Binaries returns the directory holding initdb and postgres: the
// override in NYMWATCH_PG_BIN, /usr/local/bin, the newest
// /usr/lib/postgresql/*/bin (Debian), or $PATH.
func Binaries() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("NYMWATCH_PG_BIN"); d != "" {
		if has(d) {
			return d, nil
		}
		return "", fmt.Errorf("NYMWATCH_PG_BIN=%s has no initdb and postgres", d)
	}
	dirs := []string{"/usr/local/bin"}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// newest major version first ("9.6" < "15": compare numerically)
	slices.SortFunc(debian, func(a, b string) int {
		va, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(a)), 64)
		vb, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(b)), 64)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	dirs = append(dirs, debian...)
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found: install the Debian package postgresql")
}

// Start initialises and starts a server in a new temporary directory. The
// caller must Stop it.
func Start(ctx context.Context) (*Server, error) {
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	// Short path: the socket path must fit in sun_path (108 bytes).
	dir, err := os.MkdirTemp("", "nwpg")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, sockDir: filepath.Join(dir, "sock"), log: &testutil.Buffer{Limit: 1 << 20}, exited: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(dir)
		}
	}()
	s.password = rand.Text()
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.Mkdir(s.sockDir, 0o700); err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", superuser, "--auth=scram-sha-256", "--pwfile="+pwfile,
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Env = childEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}

	s.cmd = exec.Command(filepath.Join(bin, "postgres"),
		"-D", data, "-k", s.sockDir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=",
		"-c", "logging_collector=off",
		// throwaway data: durability is not under test here
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200",
	)
	s.cmd.Env = childEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// Pdeathsig: a test binary that dies does not leave the server behind
	// (SIGQUIT is PostgreSQL's immediate shutdown).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.kill()
		return nil, err
	}
	ok = true
	return s, nil
}

// credential hands dir to an unprivileged user when running as root.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("postgres refuses to run as root and there is no user nobody: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user nobody: %w", err)
	}
	err = filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(uid), int(gid)) //nolint:gosec // parsed as 32-bit; a private temp dir of this test server
	})
	if err != nil {
		return nil, fmt.Errorf("hand %s to nobody: %w", dir, err)
	}
	// The temp dir's parent must be traversable by nobody (it is: /tmp).
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func childEnv() []string {
	env := []string{"LC_ALL=C", "LANG=C", "PATH=/usr/bin:/bin"}
	if tz := os.Getenv("TZ"); tz != "" {
		env = append(env, "TZ="+tz)
	}
	return env
}

func (s *Server) waitReady(ctx context.Context) error {
	// Readiness of an external process: poll, bounded.
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited before it was ready: %w\n%s", s.waitErr, s.log)
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := pgconn.Connect(cctx, s.connString("postgres", true))
		cancel()
		if err == nil {
			_ = c.Close(ctx)
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready: %w\n%s", err, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) connString(dbname string, withPassword bool) string {
	cs := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", s.sockDir, port, superuser, dbname)
	if withPassword {
		cs += " password=" + s.password
	}
	return cs
}

// Password is the superuser's password, which every connection needs.
func (s *Server) Password() string { return s.password }

// DSN is a connection string for database dbname, without the password.
func (s *Server) DSN(dbname string) string { return s.connString(dbname, false) }

// Exec runs sql as the superuser in database dbname.
func (s *Server) Exec(ctx context.Context, dbname, sql string) error {
	c, err := pgconn.Connect(ctx, s.connString(dbname, true))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql).ReadAll()
	return err
}

// NewDatabase creates an empty database for one test and returns its DSN
// (without the password).
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("t%03d_%s", s.n, sanitize(t.Name()))
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Exec(ctx, "postgres", `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return s.DSN(name)
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if b.Len() >= 50 { // identifiers are capped at 63 bytes
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Stop shuts the server down (fast shutdown, then kill) and removes its
// directory.
func (s *Server) Stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			s.kill()
		}
	}
	return os.RemoveAll(s.dir)
}

func (s *Server) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Shared is one server for a whole test binary, started on first use.
// Declare one per test package and Stop it in TestMain after m.Run.
type Shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Get returns the running server, starting it on first use. Without
// PostgreSQL it skips t, or fails it when NYMWATCH_REQUIRE_INTEGRATION is
// set.
func (sh *Shared) Get(t testing.TB) *Server {
	t.Helper()
	sh.once.Do(func() {
		if _, err := Binaries(); err != nil {
			sh.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sh.srv, sh.err = Start(ctx)
	})
	if sh.err != nil {
		_, berr := Binaries()
		testutil.Require(t, "PostgreSQL (Debian package postgresql)", berr)
		t.Fatalf("PostgreSQL test server: %v", sh.err)
	}
	return sh.srv
}

// Stop stops the server if it was started.
func (sh *Shared) Stop() {
	if sh.srv != nil {
		_ = sh.srv.Stop()
	}
}
