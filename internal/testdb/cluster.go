package testdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// EnvBinDir is the environment variable that may name the directory holding
// the PostgreSQL server binaries (initdb, pg_ctl) used by [StartCluster].
// Without it, the newest /usr/lib/postgresql/<major>/bin is used, then PATH.
const EnvBinDir = "DBACTOR_PG_BINDIR"

// pgCtlWait is the pg_ctl -t value: how long start and stop may take.
const pgCtlWait = 30

// ClusterOptions configures [StartCluster].
type ClusterOptions struct {
	// Password, when non-empty, becomes the password of the superuser
	// "postgres", and TCP connections must authenticate with it
	// (scram-sha-256); connections over the Unix socket stay trusted.
	// When empty, every connection is trusted. It must not contain a
	// newline.
	Password string
}

// Cluster is a throwaway PostgreSQL server started by [StartCluster] for one
// test. It listens on 127.0.0.1:Port; its superuser is "postgres". Stop and
// Start let a test take the server down and bring it back with the same data
// directory and port. The test's cleanup stops the server and deletes its
// directories.
type Cluster struct {
	// Port is the TCP port on 127.0.0.1. It is the same after Stop and Start.
	Port int
	// DataDir is the data directory (owned by the postgres user when the
	// tests run as root).
	DataDir string
	// SocketDir is the directory of the server's Unix socket.
	SocketDir string
	// LogFile is the server log. Its tail is part of every failure message
	// of the cluster helpers and is logged when the test fails.
	LogFile string

	bin        binaries
	root       string   // temporary directory holding DataDir, LogFile, ...
	extraDirs  []string // other directories to delete at cleanup
	runAsOwner bool     // run server binaries via runuser -u postgres
	uid, gid   int      // postgres user when runAsOwner, else -1

	mu      sync.Mutex
	running bool
	frozen  bool // Freeze was called and Thaw not yet

	logShown atomic.Bool // a failure message already carried the log tail
}

// StartCluster initializes and starts a new PostgreSQL cluster from the
// locally installed binaries, on a random free port of 127.0.0.1 with its
// socket in a temporary directory, and waits until it accepts connections.
// As root, initdb and pg_ctl run as the postgres user (via runuser).
//
// If the binaries are not installed, the test is skipped with a message
// naming DBACTOR_TEST_DATABASE, or fails when CI=true. Any other problem
// fails the test with the server log's tail. t.Cleanup stops the server and
// removes its directories.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	if strings.ContainsAny(opts.Password, "\r\n") {
		t.Fatal("testdb: ClusterOptions.Password must not contain a newline")
		return nil
	}
	bin, err := findBinaries()
	if err != nil {
		unavailable(t, fmt.Sprintf("StartCluster needs the PostgreSQL server binaries: %v "+
			"(install Debian package postgresql or set %s; %s alone does not provide a private cluster)",
			err, EnvBinDir, EnvDSN))
		return nil
	}

	c := &Cluster{bin: bin, uid: -1, gid: -1}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, fmt.Sprintf("StartCluster runs as root and needs a 'postgres' user to own the cluster: %v "+
				"(or use %s)", err, EnvDSN))
			return nil
		}
		if c.bin.runuser, err = exec.LookPath("runuser"); err != nil {
			t.Fatalf("testdb: StartCluster runs as root and needs runuser: %v", err)
			return nil
		}
		c.runAsOwner = true
		c.uid, _ = strconv.Atoi(u.Uid)
		c.gid, _ = strconv.Atoi(u.Gid)
	}

	// Not t.TempDir: its parents are 0700 and owned by the test user, which
	// the postgres user could not traverse.
	root, err := os.MkdirTemp("", "dbactor-cluster-")
	if err != nil {
		t.Fatalf("testdb: %v", err)
		return nil
	}
	c.root = root
	c.DataDir = filepath.Join(root, "data")
	c.LogFile = filepath.Join(root, "postgres.log")
	c.SocketDir = filepath.Join(root, "sock")
	t.Cleanup(func() { c.cleanup(t) })

	if len(c.SocketDir) > 80 { // Unix socket paths are limited to ~107 bytes
		dir, err := os.MkdirTemp("/tmp", "dbactor-sock-")
		if err != nil {
			t.Fatalf("testdb: %v", err)
			return nil
		}
		c.SocketDir = dir
		c.extraDirs = append(c.extraDirs, dir)
	} else if err := os.Mkdir(c.SocketDir, 0o755); err != nil {
		t.Fatalf("testdb: %v", err)
		return nil
	}
	for _, dir := range []string{root, c.SocketDir} {
		if err := c.chmodOwn(dir, 0o755); err != nil {
			t.Fatalf("testdb: %v", err)
			return nil
		}
	}

	args := []string{"-D", c.DataDir, "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"}
	if opts.Password != "" {
		pwfile := filepath.Join(root, "pwfile")
		if err := os.WriteFile(pwfile, []byte(opts.Password+"\n"), 0o600); err != nil {
			t.Fatalf("testdb: %v", err)
			return nil
		}
		if err := c.chmodOwn(pwfile, 0o600); err != nil {
			t.Fatalf("testdb: %v", err)
			return nil
		}
		defer func() { _ = os.Remove(pwfile) }()
		args = append(args, "--auth-host=scram-sha-256", "--auth-local=trust", "--pwfile="+pwfile)
	} else {
		args = append(args, "--auth=trust")
	}
	if out, err := c.run(2*time.Minute, c.bin.initdb, args...); err != nil {
		t.Fatalf("testdb: initdb failed: %v\n%s", err, out)
		return nil
	}
	if err := c.includeConf(); err != nil {
		t.Fatalf("testdb: %v", err)
		return nil
	}

	// The port is chosen free, but another process may take it before the
	// server binds it: then try another one.
	for attempt := 1; ; attempt++ {
		c.Port, err = freePort()
		if err == nil {
			err = c.writeConf()
		}
		if err == nil {
			err = c.start()
		}
		if err == nil {
			return c
		}
		if attempt == 3 || !strings.Contains(c.logTail(), "could not bind") {
			t.Fatalf("testdb: starting PostgreSQL: %v%s", err, c.logSuffix())
			return nil
		}
	}
}

// DSN returns a DSN for database "postgres" as user "postgres" on
// 127.0.0.1:Port with sslmode=disable, carrying password when it is
// non-empty.
func (c *Cluster) DSN(password string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	if password != "" {
		u.User = url.UserPassword("postgres", password)
	}
	return u.String()
}

// Stop shuts the server down (pg_ctl stop -m fast, falling back to
// immediate) and waits until it has exited; connections fail until Start.
// The data directory and port are kept. Stopping a stopped cluster does
// nothing.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return
	}
	if err := c.stop("fast"); err != nil {
		if err2 := c.stop("immediate"); err2 != nil {
			t.Fatalf("testdb: stopping PostgreSQL: %v; %v%s", err, err2, c.logSuffix())
			return
		}
	}
	c.running = false
}

// Start starts a server stopped by Stop, with the same data directory and
// port, and waits until it accepts connections. Starting a running cluster
// does nothing.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if err := c.start(); err != nil {
		t.Fatalf("testdb: starting PostgreSQL: %v%s", err, c.logSuffix())
	}
}

// Freeze stops every process of the running server with SIGSTOP — the
// postmaster first, so that it forks no new backend, then its children:
// connections stay open and nothing answers, as on a hung host. Thaw
// resumes them. The test's cleanup thaws a frozen server before stopping it.
func (c *Cluster) Freeze(t testing.TB) {
	t.Helper()
	if err := c.signalAll(syscall.SIGSTOP); err != nil {
		t.Fatalf("testdb: freezing PostgreSQL: %v%s", err, c.logSuffix())
	}
	c.mu.Lock()
	c.frozen = true
	c.mu.Unlock()
}

// Thaw resumes a server stopped by Freeze (SIGCONT to every process).
func (c *Cluster) Thaw(t testing.TB) {
	t.Helper()
	if err := c.thaw(); err != nil {
		t.Fatalf("testdb: thawing PostgreSQL: %v%s", err, c.logSuffix())
	}
}

func (c *Cluster) thaw() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen {
		return nil
	}
	c.frozen = false
	return c.signalAll(syscall.SIGCONT)
}

// signalAll sends sig to the postmaster, then to each of its children.
func (c *Cluster) signalAll(sig syscall.Signal) error {
	pm := postmasterPID(filepath.Join(c.DataDir, "postmaster.pid"))
	if pm <= 0 {
		return errors.New("no postmaster.pid: the server is not running")
	}
	if err := syscall.Kill(pm, sig); err != nil {
		return fmt.Errorf("signalling postmaster %d: %w", pm, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// The fields after the command (which may hold spaces) start
		// after the last ')': state, then the parent's PID.
		i := strings.LastIndexByte(string(stat), ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pm) {
			_ = syscall.Kill(pid, sig) // a child exiting meanwhile is no error
		}
	}
	return nil
}

func (c *Cluster) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return nil
	}
	out, err := c.run(time.Duration(pgCtlWait+15)*time.Second, c.bin.pgCtl,
		"-D", c.DataDir, "-l", c.LogFile, "-w", "-t", strconv.Itoa(pgCtlWait), "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	c.running = true
	return c.waitReady(time.Duration(pgCtlWait) * time.Second)
}

func (c *Cluster) stop(mode string) error {
	if _, err := os.Stat(filepath.Join(c.DataDir, "postmaster.pid")); errors.Is(err, os.ErrNotExist) {
		return nil // not running (e.g. the postmaster was killed and cleaned up)
	}
	out, err := c.run(time.Duration(pgCtlWait+15)*time.Second, c.bin.pgCtl,
		"-D", c.DataDir, "-m", mode, "-w", "-t", strconv.Itoa(pgCtlWait), "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %w\n%s", mode, err, out)
	}
	return nil
}

// waitReady polls until the server accepts TCP connections. pg_ctl -w
// already waited for it; this is a safety net with a deadline.
func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port))
	for {
		var err error
		if c.bin.pgIsReady != "" {
			var out []byte
			out, err = c.run(10*time.Second, c.bin.pgIsReady, "-q", "-t", "2", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port))
			if err != nil {
				err = fmt.Errorf("pg_isready: %w %s", err, out)
			}
		} else {
			var conn net.Conn
			if conn, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
				_ = conn.Close()
			}
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server on %s not ready after %v: %w", addr, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cleanup stops the server (whatever Stop/Start did) and removes its
// directories; on test failure it logs the server log's tail first.
func (c *Cluster) cleanup(t testing.TB) {
	if t.Failed() && !c.logShown.Load() {
		t.Logf("testdb: PostgreSQL log %s (tail):\n%s", c.LogFile, c.logTail())
	}
	if err := c.thaw(); err != nil {
		t.Errorf("testdb: thawing PostgreSQL at cleanup: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pidFile := filepath.Join(c.DataDir, "postmaster.pid")
	if _, err := os.Stat(pidFile); err == nil {
		if err := c.stop("immediate"); err != nil {
			// Last resort: kill the postmaster named in its pid file.
			if pid := postmasterPID(pidFile); pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Errorf("testdb: stopping PostgreSQL at cleanup: %v%s", err, c.logSuffix())
		}
	}
	c.running = false
	for _, dir := range append([]string{c.root}, c.extraDirs...) {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("testdb: removing %s: %v", dir, err)
		}
	}
}

func postmasterPID(pidFile string) int {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0
	}
	return pid
}

// includeConf makes postgresql.conf include dbactor.conf, our settings.
func (c *Cluster) includeConf() error {
	f, err := os.OpenFile(filepath.Join(c.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("\ninclude_if_exists = 'dbactor.conf'\n")
	return errors.Join(err, f.Close())
}

// writeConf writes dbactor.conf (in the data directory) for c.Port.
func (c *Cluster) writeConf() error {
	conf := fmt.Sprintf(`# Written by internal/testdb.StartCluster.
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
max_connections = 100
shared_buffers = 32MB
# Throwaway test cluster: durability across OS crashes is not needed.
fsync = off
synchronous_commit = off
full_page_writes = off
`, c.Port, strings.ReplaceAll(c.SocketDir, "'", "''"))
	path := filepath.Join(c.DataDir, "dbactor.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return err
	}
	return c.chmodOwn(path, 0o644)
}

// chmodOwn sets mode and, when running as root, hands path to postgres.
func (c *Cluster) chmodOwn(path string, mode os.FileMode) error {
	if err := os.Chmod(path, mode); err != nil {
		return err
	}
	if c.runAsOwner {
		return os.Chown(path, c.uid, c.gid)
	}
	return nil
}

// run runs a PostgreSQL binary (as postgres when root) with a timeout and
// returns its combined output.
func (c *Cluster) run(timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if c.runAsOwner {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = c.bin.runuser
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.root
	cmd.Env = serverEnv()
	// runuser passes SIGTERM on to its child; SIGKILL follows after WaitDelay.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s: timed out after %v: %w", filepath.Base(name), timeout, err)
	}
	return out.Bytes(), err
}

// serverEnv is the environment for PostgreSQL binaries: ours without PG*
// variables (PGPORT, PGDATA, ... would change their behavior), in the C
// locale.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}

// logTail returns the last lines of the server log.
func (c *Cluster) logTail() string {
	const maxBytes = 4096
	f, err := os.Open(c.LogFile)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	off := max(info.Size()-maxBytes, 0)
	buf := make([]byte, info.Size()-off)
	n, _ := f.ReadAt(buf, off)
	lines := strings.Split(strings.TrimRight(string(buf[:n]), "\n"), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // drop the partial first line
	}
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

func (c *Cluster) logSuffix() string {
	c.logShown.Store(true)
	return fmt.Sprintf("\n--- PostgreSQL log %s (tail) ---\n%s", c.LogFile, c.logTail())
}

// binaries are the paths of the PostgreSQL programs StartCluster runs.
type binaries struct {
	initdb, pgCtl string
	pgIsReady     string // optional
	runuser       string // set when running as root
}

// findBinaries looks in $DBACTOR_PG_BINDIR, the newest
// /usr/lib/postgresql/<major>/bin, then PATH.
func findBinaries() (binaries, error) {
	var dirs []string
	if d := os.Getenv(EnvBinDir); d != "" {
		dirs = append(dirs, d)
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	dirs = append(dirs, matches...)
	for _, d := range dirs {
		b := binaries{initdb: filepath.Join(d, "initdb"), pgCtl: filepath.Join(d, "pg_ctl")}
		if isExecutable(b.initdb) && isExecutable(b.pgCtl) {
			if p := filepath.Join(d, "pg_isready"); isExecutable(p) {
				b.pgIsReady = p
			} else {
				b.pgIsReady, _ = exec.LookPath("pg_isready")
			}
			return b, nil
		}
	}
	initdb, err1 := exec.LookPath("initdb")
	pgCtl, err2 := exec.LookPath("pg_ctl")
	if err1 == nil && err2 == nil {
		b := binaries{initdb: initdb, pgCtl: pgCtl}
		b.pgIsReady, _ = exec.LookPath("pg_isready")
		return b, nil
	}
	return binaries{}, errors.New("initdb and pg_ctl not found in $" + EnvBinDir +
		", /usr/lib/postgresql/*/bin or PATH")
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}
