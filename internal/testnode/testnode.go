// Package testnode runs the other node of a multi-node test in a child
// process: the test binary itself, re-executed with a role.
//
// Two Proto.Actor remote instances in one process make `go test -race`
// fail inside the library, so a test that needs a second node starts it as
// a child process instead. The package's TestMain checks [Role] first and,
// when it is set, runs that role instead of the tests. The parent talks
// to the child with lines: the child prints lines on stdout (an address,
// "HELD", results of commands), and reads commands from stdin; it must
// exit when stdin closes, so that it never outlives its parent.
//
// [Start] starts a child and registers a cleanup that kills and reaps it
// (no orphan processes, even when the test fails), fails the test if the
// race detector reported a race in the child, and logs the child's stderr
// when the test failed.
package testnode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvRole is the environment variable naming the role of a child process.
const EnvRole = "DBACTOR_NODE_ROLE"

// EnvIsolated names the one test an isolated test process runs (see
// Isolate).
const EnvIsolated = "DBACTOR_NODE_ISOLATED"

// Role is the role this process was started for by Start; "" in a normal
// test run.
func Role() string { return os.Getenv(EnvRole) }

// DefaultWait bounds Expect and the waits of Quit and Kill.
const DefaultWait = 20 * time.Second

// Child is a running child process.
type Child struct {
	t     testing.TB
	role  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // stdout lines; closed at EOF

	stderr lockedBuffer

	exited  chan struct{} // closed once the process has been reaped
	waitErr error         // set before exited closes

	stdinMu     sync.Mutex
	stdinClosed bool

	depRaces bool // see AllowDependencyRaces
}

// OwnPackages is the import path prefix of this module's code: a race
// report naming none of its functions in its accesses is a dependency's.
const OwnPackages = "github.com/dbactor/dbactor/"

// AllowDependencyRaces makes the child's race reports whose racing
// accesses are all in other modules' code (stacks naming no function of
// OwnPackages) logged instead of failing the test. For roles that run
// library code with known races of its own, such as Proto.Actor's cluster
// (remote.BlockList reads its set without its lock). A race with one of
// our functions in either access still fails the test.
func (c *Child) AllowDependencyRaces() { c.depRaces = true }

// Start runs the test binary again as role, with env ("KEY=value") added
// to this process's environment. The child runs no tests
// (-test.run=^$): the package's TestMain must dispatch on Role.
func Start(t testing.TB, role string, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), EnvRole+"="+role), env...)
	c := &Child{t: t, role: role, cmd: cmd, lines: make(chan string, 256), exited: make(chan struct{})}
	cmd.Stderr = &c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("testnode: %v", err)
	}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatalf("testnode: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testnode: starting %s child: %v", role, err)
	}
	// Read stdout to EOF, then reap the process: Wait must not run before
	// the pipe is drained.
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		_, _ = io.Copy(io.Discard, stdout)
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(c.cleanup)
	return c
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Expect waits up to DefaultWait for a stdout line starting with prefix
// and returns the rest of it, trimmed. Lines before it are logged and
// skipped. The test fails if the child exits first or the wait ends.
func (c *Child) Expect(prefix string) string {
	c.t.Helper()
	return c.ExpectWithin(prefix, DefaultWait)
}

// ExpectWithin is Expect with its own wait.
func (c *Child) ExpectWithin(prefix string, wait time.Duration) string {
	c.t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				<-c.exited
				c.t.Fatalf("testnode: %s child exited (%v) before printing %q; stderr:\n%s", c.role, c.waitErr, prefix, c.stderr.tail())
				return ""
			}
			if rest, found := strings.CutPrefix(line, prefix); found {
				return strings.TrimSpace(rest)
			}
			c.t.Logf("testnode: %s child: %s", c.role, line)
		case <-timer.C:
			c.t.Fatalf("testnode: %s child printed no %q within %v; stderr:\n%s", c.role, prefix, wait, c.stderr.tail())
			return ""
		}
	}
}

// Send writes one command line to the child's stdin.
func (c *Child) Send(line string) {
	c.t.Helper()
	c.stdinMu.Lock()
	defer c.stdinMu.Unlock()
	if c.stdinClosed {
		c.t.Fatalf("testnode: %s child: stdin already closed", c.role)
	}
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.t.Fatalf("testnode: writing to %s child: %v", c.role, err)
	}
}

// Call sends a command line and returns the rest of the next line that
// starts with "OK " (or is "OK"); a line starting with "ERR" fails the test.
func (c *Child) Call(line string) string {
	c.t.Helper()
	c.Send(line)
	timer := time.NewTimer(DefaultWait)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				<-c.exited
				c.t.Fatalf("testnode: %s child exited (%v) during %q; stderr:\n%s", c.role, c.waitErr, line, c.stderr.tail())
				return ""
			}
			switch {
			case l == "OK" || strings.HasPrefix(l, "OK "):
				return strings.TrimSpace(strings.TrimPrefix(l, "OK"))
			case strings.HasPrefix(l, "ERR"):
				c.t.Fatalf("testnode: %s child: %q failed: %s", c.role, line, l)
				return ""
			}
			c.t.Logf("testnode: %s child: %s", c.role, l)
		case <-timer.C:
			c.t.Fatalf("testnode: %s child did not answer %q within %v; stderr:\n%s", c.role, line, DefaultWait, c.stderr.tail())
			return ""
		}
	}
}

// Alive reports whether the child has not exited (been reaped) yet.
func (c *Child) Alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return c.cmd.Process.Signal(syscall.Signal(0)) == nil
	}
}

// Exited is closed once the child has exited and been reaped.
func (c *Child) Exited() <-chan struct{} { return c.exited }

// Kill sends SIGKILL and waits until the child is reaped.
func (c *Child) Kill() {
	c.t.Helper()
	_ = c.cmd.Process.Kill()
	select {
	case <-c.exited:
	case <-time.After(DefaultWait):
		c.t.Fatalf("testnode: %s child (pid %d) not reaped %v after SIGKILL", c.role, c.Pid(), DefaultWait)
	}
}

// Quit closes the child's stdin, which asks it to shut down cleanly, and
// waits for it to exit with status 0.
func (c *Child) Quit() {
	c.t.Helper()
	c.closeStdin()
	select {
	case <-c.exited:
	case <-time.After(DefaultWait):
		c.t.Fatalf("testnode: %s child did not exit within %v of its stdin closing; stderr:\n%s", c.role, DefaultWait, c.stderr.tail())
		return
	}
	if c.waitErr != nil && !c.onlyDependencyRaces() {
		c.t.Fatalf("testnode: %s child exited with %v; stderr:\n%s", c.role, c.waitErr, c.stderr.tail())
	}
}

// raceExitCode is the status a process built with -race exits with when
// the race detector reported a race (GORACE exitcode).
const raceExitCode = 66

// onlyDependencyRaces reports whether the child exited with the race
// detector's status for allowed races only: knownRaces, and those
// AllowDependencyRaces allows.
func (c *Child) onlyDependencyRaces() bool {
	var ee *exec.ExitError
	if !errors.As(c.waitErr, &ee) || ee.ExitCode() != raceExitCode {
		return false
	}
	ours, theirs, known := races(c.stderr.String())
	return len(ours) == 0 && (c.depRaces || len(theirs) == 0) && len(theirs)+len(known) > 0
}

func (c *Child) closeStdin() {
	c.stdinMu.Lock()
	defer c.stdinMu.Unlock()
	if !c.stdinClosed {
		c.stdinClosed = true
		_ = c.stdin.Close()
	}
}

func (c *Child) cleanup() {
	c.closeStdin()
	// Killing a process that has been reaped already does nothing.
	_ = c.cmd.Process.Kill()
	// Drain what the child printed after the test stopped reading, so the
	// reader can reach EOF and reap it.
	for range c.lines {
	}
	<-c.exited
	errOut := c.stderr.String()
	if ours, theirs, known := races(errOut); len(ours) > 0 || (len(theirs) > 0 && !c.depRaces) {
		c.t.Errorf("testnode: the race detector reported a race in the %s child:\n%s", c.role, errOut)
		return
	} else if allowed := append(theirs, known...); len(allowed) > 0 {
		c.t.Logf("testnode: %d race(s) inside dependencies in the %s child (allowed):\n%s", len(allowed), c.role, strings.Join(allowed, "\n"))
	}
	if c.t.Failed() && errOut != "" {
		c.t.Logf("testnode: %s child stderr:\n%s", c.role, c.stderr.tail())
	}
}

// ExitError is the child's exit error once it has exited (nil for status 0).
func (c *Child) ExitError() error {
	select {
	case <-c.exited:
		return c.waitErr
	default:
		return errors.New("testnode: child still running")
	}
}

// Killed reports whether the child ended by SIGKILL.
func (c *Child) Killed() bool {
	var ee *exec.ExitError
	if !errors.As(c.ExitError(), &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) tail() string {
	s := b.String()
	const max = 8 << 10
	if len(s) > max {
		s = "…" + s[len(s)-max:]
	}
	return s
}

// FreePorts returns n distinct TCP ports of 127.0.0.1 that were free a
// moment ago (another process may take one before it is used).
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("testnode: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Out writes the lines a child role prints, one whole line at a time, from
// any goroutine.
type Out struct {
	mu sync.Mutex
	w  io.Writer
}

// NewOut returns an Out writing to w (os.Stdout in a child).
func NewOut(w io.Writer) *Out { return &Out{w: w} }

// Printf prints one line.
func (o *Out) Printf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = fmt.Fprintf(o.w, format+"\n", args...)
}

// Commands calls handle for every line read from r until r ends (the
// parent closed the child's stdin, or died) or handle returns false.
func Commands(r io.Reader, handle func(cmd string, args []string) bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if !handle(f[0], f[1:]) {
			return
		}
	}
}

// Isolate runs the test t in a test process of its own and reports
// whether the caller is that process: call it first, and return when it
// returns false —
//
//	if !testnode.Isolate(t) {
//		return
//	}
//
// Otherwise (in the parent) it runs the test binary again with
// -test.run matching exactly t, waits for it, logs its output, fails t if
// it failed (a failed assertion, a race the detector found, a goroutine
// goleak found at its end), and skips t if it skipped. A run that failed
// with known dependency races only (knownRaces) and none of its own or
// others runs once more, and that run decides.
//
// Why: under -race a process may host only one Proto.Actor remote in its
// whole life, not only one at a time. Remote.Start writes gRPC's global
// logger (grpclog.SetLoggerV2), which the gRPC transport goroutines of an
// earlier, already shut down remote may still read — a race the detector
// reports in the test that starts the second remote.
func Isolate(t *testing.T) bool {
	t.Helper()
	if os.Getenv(EnvIsolated) == t.Name() {
		return true
	}
	if Role() != "" || os.Getenv(EnvIsolated) != "" {
		t.Fatalf("testnode: Isolate(%s) in a child process (%s=%q, %s=%q)", t.Name(), EnvRole, Role(), EnvIsolated, os.Getenv(EnvIsolated))
		return false
	}
	var elems []string
	for _, e := range strings.Split(t.Name(), "/") {
		elems = append(elems, "^"+regexp.QuoteMeta(e)+"$")
	}
	args := []string{"-test.run=" + strings.Join(elems, "/"), "-test.count=1", "-test.v=true"}
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		// Leave the child's own timeout (which dumps its goroutines) time
		// to fire before this process kills it.
		left := time.Until(d)
		args = append(args, "-test.timeout="+(left*9/10).String())
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-left/20))
		defer cancel()
	}
	run := func() ([]byte, error) {
		cmd := exec.CommandContext(ctx, os.Args[0], args...)
		cmd.Env = append(os.Environ(), EnvIsolated+"="+t.Name())
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("testnode: %s ran in a process of its own (%v):\n%s", t.Name(), time.Since(start).Round(time.Millisecond), out)
		return out, err
	}
	out, err := run()
	if ours, theirs, known := races(string(out)); err != nil && len(ours) == 0 && len(theirs) == 0 && len(known) > 0 {
		// The race detector fails the test itself for a race between a
		// dependency's own goroutines that no caller can prevent
		// (knownRaces): once more, and the second run decides.
		t.Logf("testnode: %s met %d known dependency race(s) only; running it once more", t.Name(), len(known))
		out, err = run()
	}
	switch {
	case err != nil:
		t.Fatalf("testnode: the isolated run of %s failed: %v", t.Name(), err)
	case bytes.Contains(out, []byte("--- SKIP: "+t.Name()+" ")):
		t.Skipf("testnode: the isolated run of %s skipped", t.Name())
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name()+" ")):
		t.Fatalf("testnode: the isolated run of %s did not run it (no PASS line)", t.Name())
	}
	return false
}

// races splits the race detector's reports in out into those whose racing
// accesses name a function of OwnPackages and the others.
func races(out string) (ours, theirs, known []string) {
	const head = "WARNING: DATA RACE"
	for {
		i := strings.Index(out, head)
		if i < 0 {
			return ours, theirs, known
		}
		out = out[i:]
		end := strings.Index(out, "==================")
		if end < 0 {
			end = len(out)
		}
		report := out[:end]
		out = out[end:]
		// The accesses come first; "Goroutine N (…) created at:" sections
		// (where the goroutines started) follow.
		accesses := report
		if j := strings.Index(report, ") created at:"); j >= 0 {
			if k := strings.LastIndex(report[:j], "\nGoroutine "); k >= 0 {
				accesses = report[:k]
			}
		}
		switch {
		case knownRace(accesses):
			known = append(known, report)
		case strings.Contains(accesses, OwnPackages):
			ours = append(ours, report)
		default:
			theirs = append(theirs, report)
		}
	}
}

// knownRaces are data races between a dependency's own goroutines that its
// caller cannot prevent, by the innermost functions of their two accesses.
// They are logged and allowed for every child, although a function of ours
// called the code of one access.
var knownRaces = [][2]string{
	// Proto.Actor (v0.0.0-20240822202345): Remote.Shutdown's
	// endpointManager.stop sets em.connections to nil while an endpoint
	// writer that failed to connect publishes EndpointTerminatedEvent, whose
	// handler reads it (endpoint_manager.go:115 and :248). Since grpc v1.85
	// a dial to a peer that is gone fails at once, so a node closing after
	// its peer can meet it.
	{"protoactor-go/remote.(*endpointManager).stop(", "protoactor-go/remote.(*endpointManager).removeEndpoint("},
	// Proto.Actor (the same version): an endpoint reader closes its
	// disconnect channel when its stream ends (endpoint_reader.go:43) but
	// leaves it in endpointReaderConnections, where Remote.Shutdown's
	// endpointManager.stop sends on it (endpoint_manager.go:119; the send
	// panics, which node.Close recovers). A node closing after a peer it
	// served was killed can meet it.
	{"protoactor-go/remote.(*endpointManager).stop.func1(", "protoactor-go/remote.(*endpointReader).Receive.func1("},
	// Proto.Actor's cluster (the same version): remote.BlockList's readers
	// take no lock (blocklist.go:28 and :44) while Block writes under it
	// (:37). A member that sees another leave blocks it while its topology
	// update reads the list; either member of a two-member test can meet
	// it.
	{"protoactor-go/remote.(*BlockList).Block(", "protoactor-go/remote.(*BlockList).BlockedMembers("},
	{"protoactor-go/remote.(*BlockList).Block(", "protoactor-go/remote.(*BlockList).IsBlocked("},
}

// knownRace reports whether the accesses of a race report are those of
// one of knownRaces: the first function after each "… at 0x… by goroutine
// N:" that is not the runtime's (a channel's send or close is reported in
// runtime.chansend, runtime.closechan) is its innermost function. A stack
// lists each function, then its file.
func knownRace(accesses string) bool {
	lines := strings.Split(accesses, "\n")
	var top []string
	for i, l := range lines {
		if !strings.Contains(l, " at 0x") || !strings.Contains(l, "goroutine") {
			continue
		}
		for j := i + 1; j < len(lines); j += 2 {
			if f := strings.TrimSpace(lines[j]); !strings.HasPrefix(f, "runtime.") {
				top = append(top, f)
				break
			}
		}
	}
	if len(top) != 2 {
		return false
	}
	for _, k := range knownRaces {
		if strings.Contains(top[0], k[0]) && strings.Contains(top[1], k[1]) ||
			strings.Contains(top[0], k[1]) && strings.Contains(top[1], k[0]) {
			return true
		}
	}
	return false
}

// RunRole runs the child role named role, one of roles, with an Out on
// standard output, and returns the process's exit status: 0, or 1 with the
// failure on standard error (an unknown role too). A package's TestMain
// calls it when Role is set: os.Exit(testnode.RunRole(role, roles)).
func RunRole(role string, roles map[string]func(*Out) error) int {
	run, ok := roles[role]
	err := fmt.Errorf("unknown role %q", role)
	if ok {
		err = run(NewOut(os.Stdout))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "role %s: %v\n", role, err)
		return 1
	}
	return 0
}
