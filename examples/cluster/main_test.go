package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/internal/testnode"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// TestCluster runs the demo as docs/across-nodes.md runs it: the built program, with
// no flags, which starts itself again as member 2. The program is built
// with `go build`, without the race detector, as `go run` builds it: two
// cluster members race inside Proto.Actor at the pinned version (the
// cluster's remote.BlockList is read without its lock; a node closing
// after its peer left races in remote.endpointManager.stop), in whichever
// process runs them. This test process runs no Proto.Actor node at all, so
// `go test -race` checks only the test's own code here.
//
// The subtests run in parallel (each program picks its own free ports):
// each takes about 3 s to form its cluster and leave it.
func TestCluster(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cluster")
	start := time.Now()
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("go build took %v", time.Since(start).Round(time.Millisecond))

	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		runDemo(t, bin, "", "sqlite", "an SQLite file each")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		// Skips with a message naming DBACTOR_TEST_DATABASE when it is not
		// set or not reachable; fails instead when CI=true.
		runDemo(t, bin, testdb.NewPostgresDatabase(t), "postgres", "one database from -database")
	})
	t.Run("one member per terminal", func(t *testing.T) {
		t.Parallel()
		twoTerminals(t, bin)
	})
	t.Run("bad flags", func(t *testing.T) {
		t.Parallel()
		busy, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"-role=nope"}, `cluster: unknown -role "nope"`},
			{[]string{"-role=member", "-port=" + port, "-dir=" + t.TempDir()}, "cluster: automanaged port " + port + ": "},
		} {
			out, err := exec.Command(bin, tc.args...).CombinedOutput()
			if err == nil || !strings.HasPrefix(string(out), tc.want) {
				t.Errorf("%v: err %v, output %q; want a failure starting %q", tc.args, err, out, tc.want)
			}
		}
	})
}

// want is the demo's output, normalised by normalise.
const want = `1. cluster "dbactor-example" on 127.0.0.1: automanaged endpoints ADDR (member 1, this process) and ADDR (member 2, a child process); registries billing and audit on WHERE
   [member 2] member listening on ADDR (automanaged endpoint on port PORT; registries billing and audit on WHERE)
2. member 2 started as a child process: ADDR
3. member 1 started in this process: ADDR
   [member 2] sees 2 members: ADDR and ADDR
4. cluster formed DURATION after member 1 started: member 1 sees ADDR and ADDR
5. registry "billing", addressed by name from member 1:
   hosted on MEMBER
   Connect: connected=true ref_count=1 dialect=DIALECT
   Exec: created table billing_entries, inserted 2 rows
   Query: 2 rows
     id=1 note="billing entry 1"
     id=2 note="billing entry 2"
   [member 2] read billing by name: 2 rows in billing_entries (activation on ADDR)
   dropped billing_entries; Disconnect: connected=false ref_count=0; client closed
6. registry "audit", addressed by name from member 1:
   hosted on MEMBER
   Connect: connected=true ref_count=1 dialect=DIALECT
   Exec: created table audit_entries, inserted 2 rows
   Query: 2 rows
     id=1 note="audit entry 1"
     id=2 note="audit entry 2"
   [member 2] read audit by name: 2 rows in audit_entries (activation on ADDR)
   dropped audit_entries; Disconnect: connected=false ref_count=0; client closed
7. member 1 left the cluster gracefully in DURATION
   [member 2] stdin closed: exiting
8. member 2 exited
`

var (
	addrPattern     = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	portPattern     = regexp.MustCompile(`port \d+`)
	durationPattern = regexp.MustCompile(`\b\d+(\.\d+)?(µs|ms|s)\b`)
	hostedPattern   = regexp.MustCompile(`hosted on (member 1 \(this process|member 2 \(the child process), (127\.0\.0\.1:\d+)\)`)
	readPattern     = regexp.MustCompile(`read (\w+) by name: .* \(activation on (127\.0\.0\.1:\d+)\)`)
	member1Pattern  = regexp.MustCompile(`(?m)^3\. member 1 started in this process: (127\.0\.0\.1:\d+)$`)
	member2Pattern  = regexp.MustCompile(`(?m)^2\. member 2 started as a child process: (127\.0\.0\.1:\d+)$`)
)

// isBanner reports whether line is (member 2's copy of) the line echo
// prints on stdout when the automanaged provider's endpoint starts.
func isBanner(line string) bool {
	return strings.HasPrefix(strings.TrimPrefix(line, "   [member 2] "), "⇨ http server started on ")
}

// normalise drops echo's lines and replaces what changes from run to run:
// addresses, ports, durations, and which member hosts each registry.
func normalise(out string) string {
	var kept []string
	for line := range strings.Lines(out) {
		if !isBanner(strings.TrimSuffix(line, "\n")) {
			kept = append(kept, line)
		}
	}
	s := strings.Join(kept, "")
	s = hostedPattern.ReplaceAllString(s, "hosted on MEMBER")
	s = addrPattern.ReplaceAllString(s, "ADDR")
	s = portPattern.ReplaceAllString(s, "port PORT")
	return durationPattern.ReplaceAllString(s, "DURATION")
}

func runDemo(t *testing.T, bin, database, dialect, where string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), envDatabase+"="+database)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("the demo took %v", time.Since(start).Round(time.Millisecond))
	out := stdout.String()
	if stderr.Len() > 0 {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	w := strings.NewReplacer("DIALECT", dialect, "WHERE", where).Replace(want)
	if got := normalise(out); got != w {
		t.Fatalf("output:\n%s\nnormalised:\n%s\nwant:\n%s", out, got, w)
	}

	// Both registries answered; each from the member the output names,
	// and member 2 reached the same activation by name.
	members := map[string]string{
		"member 1": member1Pattern.FindStringSubmatch(out)[1],
		"member 2": member2Pattern.FindStringSubmatch(out)[1],
	}
	hosted := hostedPattern.FindAllStringSubmatch(out, -1)
	read := readPattern.FindAllStringSubmatch(out, -1)
	if len(hosted) != len(identities) || len(read) != len(identities) {
		t.Fatalf("want %d hosted and read lines, got %d and %d:\n%s", len(identities), len(hosted), len(read), out)
	}
	for i, identity := range identities {
		name, _, _ := strings.Cut(hosted[i][1], " (")
		if addr := members[name]; addr != hosted[i][2] {
			t.Errorf("registry %s: hosted on %s, but %s is %s", identity, hosted[i][2], name, addr)
		}
		if read[i][1] != identity || read[i][2] != hosted[i][2] {
			t.Errorf("registry %s hosted on %s, but member 2 read %s on %s", identity, hosted[i][2], read[i][1], read[i][2])
		}
		t.Logf("registry %s was hosted on %s", identity, name)
	}
}

// twoTerminals runs two members alone, as two terminals would, and types
// commands on their stdin: both wait to see each other, member B uses
// billing, member A refuses an unknown registry, then A leaves the
// cluster gracefully, and B, alone, leaves at once. (The demo tests the
// end of stdin.)
func twoTerminals(t *testing.T, bin string) {
	ports, err := testnode.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	hosts := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", ports[0], ports[1])
	dir := t.TempDir()
	a := startMemberProc(t, bin, "-role=member", "-port="+strconv.Itoa(ports[0]), "-hosts="+hosts, "-dir="+dir)
	b := startMemberProc(t, bin, "-role=member", "-port="+strconv.Itoa(ports[1]), "-hosts="+hosts, "-dir="+dir)
	addrA := a.expect(t, readyPrefix)
	addrB := b.expect(t, readyPrefix)
	both := []string{addrA[:strings.IndexByte(addrA, ' ')], addrB[:strings.IndexByte(addrB, ' ')]}

	for _, p := range []*memberProc{a, b} {
		p.send(t, "members 2")
		seen := p.expect(t, "sees 2 members: ")
		for _, addr := range both {
			if !strings.Contains(seen, addr) {
				t.Errorf("a member sees %s, not %s", seen, addr)
			}
		}
	}

	b.send(t, "use billing")
	hosted := b.expect(t, "   hosted on ")
	if !strings.Contains(hosted, both[0]) && !strings.Contains(hosted, both[1]) {
		t.Errorf("billing hosted on %q, neither member", hosted)
	}
	b.expect(t, "   Connect: connected=true ref_count=1 dialect=sqlite")
	b.expect(t, "   Query: 2 rows")
	b.expect(t, `     id=2 note="billing entry 2"`)
	b.expect(t, "   dropped billing_entries; Disconnect: connected=false ref_count=0; client closed")

	a.send(t, "use payroll")
	if e := a.expect(t, "error: "); !strings.Contains(e, `registry "payroll": unknown registry (this cluster has billing and audit)`) {
		t.Errorf("use payroll: %q", e)
	}

	start := time.Now()
	a.send(t, "leave")
	a.expect(t, "leave: leaving the cluster")
	a.expect(t, "left the cluster gracefully in ")
	a.wait(t)
	t.Logf("member A left the cluster and exited in %v", time.Since(start).Round(time.Millisecond))

	// B notices (the automanaged provider polls every 300 ms); alone, it
	// exits at once when it leaves.
	// "members 1" waits (on topology events, up to formTimeout) until B
	// sees exactly one member.
	b.send(t, "members 1")
	if seen := b.expect(t, "sees "); !strings.HasPrefix(seen, "1 member: ") {
		t.Fatalf("member B still sees member A after it left: %s", seen)
	}
	b.send(t, "leave")
	b.expect(t, "leave: leaving the cluster")
	b.expect(t, "alone in the cluster: exiting without a cluster shutdown")
	b.wait(t)
}

// memberProc is the program running as one member.
type memberProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

// startMemberProc starts bin with args (SQLite, whatever the environment
// says); at cleanup it is killed if still running, and its stderr logged
// if the test failed.
func startMemberProc(t *testing.T, bin string, args ...string) *memberProc {
	p := &memberProc{cmd: exec.Command(bin, args...), lines: make(chan string, 64), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), envDatabase+"=")
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		for range p.lines {
		}
		<-p.done
		if t.Failed() {
			t.Logf("%v: stderr:\n%s", args, p.stderr.String())
		}
	})
	return p
}

func (p *memberProc) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("sending %q: %v", line, err)
	}
}

// expect skips lines up to one starting with prefix, and returns the rest
// of it.
func (p *memberProc) expect(t *testing.T, prefix string) string {
	t.Helper()
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("%v exited before printing %q", p.cmd.Args, prefix)
			}
			if rest, found := strings.CutPrefix(line, prefix); found {
				return rest
			}
			if !isBanner(line) {
				t.Logf("%v: %s", p.cmd.Args[1:3], line)
			}
		case <-timer.C:
			t.Fatalf("%v printed no %q within 20s", p.cmd.Args, prefix)
		}
	}
}

// wait waits for the process to exit on its own, successfully and quietly.
func (p *memberProc) wait(t *testing.T) {
	t.Helper()
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	for exited := false; !exited; {
		select {
		case line, ok := <-p.lines:
			if !ok {
				<-p.done
				exited = true
				break
			}
			t.Logf("%v: %s", p.cmd.Args[1:3], line)
		case <-timer.C:
			t.Fatalf("%v did not exit within %v", p.cmd.Args, stopTimeout)
		}
	}
	if p.err != nil || p.stderr.Len() > 0 {
		t.Errorf("%v: exit %v, stderr %q", p.cmd.Args, p.err, p.stderr.String())
	}
}
