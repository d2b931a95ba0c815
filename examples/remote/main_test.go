package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/internal/testnode"
)

// TestRemote runs the demo as the README runs it: the built program, with
// no flags, which starts itself again as the database node. The program is
// built without the race detector, as `go run` builds it: Proto.Actor's
// remote, at the pinned version, races with itself when a node closes
// after its peer left (remote.endpointManager.stop against removeEndpoint),
// which one of the two nodes always does at the end of the demo.
//
// TestClientInProcess runs the client node's side (runClient) in this
// race-enabled process against the database node in a child process (this
// test binary again; never two remote nodes in one process): its client
// node closes while the database node is still up, which is race-free,
// and the child is then killed.

// dbRole is the testnode role that makes this test binary the database
// node (runDB on its stdin and stdout), for TestClientInProcess.
const dbRole = "remote-example-db"

func TestMain(m *testing.M) {
	if testnode.Role() == dbRole {
		if err := runDB(context.Background(), os.Stdin, os.Stdout, "127.0.0.1:0", os.Getenv(envDatabase)); err != nil {
			fmt.Fprintln(os.Stderr, "remote: db node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	testdb.VerifyNoLeaks(m)
}

// want is the demo's output, with addresses replaced by ADDR, the dialect
// by DIALECT and the database's description by WHERE.
const want = `   [db node] db node listening on ADDR (registry "dbactor", database: WHERE)
1. database node started as child process; its address: ADDR
2. client node on ADDR attached to registry "dbactor" at ADDR (messages only, no pool here)
3. Connect: main database connected=true ref_count=1 dialect=DIALECT
   [db node] main database here: connected=true ref_count=1
4. CreateSchema remote_demo (IfNotExists): done on the database node
5. RegisterCallbackFunc("Note"): the callback actor runs on the client node
   [db node] registered model Note (table notes); callbacks notified
6. callback ran on the client node: model=Note table=notes
7. Exec: created table remote_demo.notes, inserted 2 rows (typed arguments: int64, string, bool, time.Time)
8. Query: 2 rows
   id=1 title="write the remote example" stars=3 done=true created=2025-01-02T03:04:05Z
   id=2 title="benchmark it" stars=5 done=false created=2025-01-02T04:04:05Z
9. DropSchema remote_demo, Disconnect: main database connected=false ref_count=0
   [db node] main database here: connected=false ref_count=0
10. client closed; the registry on the database node keeps running
   [db node] stdin closed: closing the node
   [db node] node closed
11. database node exited; closing the client node
`

var addrPattern = regexp.MustCompile(`127\.0\.0\.1:\d+`)

func TestRemote(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "remote")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(t *testing.T, database, dialect, where string) {
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
		if stderr.Len() > 0 {
			t.Errorf("stderr:\n%s", stderr.String())
		}
		got := addrPattern.ReplaceAllString(stdout.String(), "ADDR")
		w := strings.NewReplacer("DIALECT", dialect, "WHERE", where).Replace(want)
		if got != w {
			t.Fatalf("output:\n%s\nwant:\n%s", got, w)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		run(t, "", "sqlite", "SQLite file in a temp dir")
	})
	t.Run("postgres", func(t *testing.T) {
		run(t, testdb.NewPostgresDatabase(t), "postgres", "PostgreSQL/URL from -database")
	})
	t.Run("two terminals", func(t *testing.T) { twoTerminals(t, bin) })
	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{{"-role=client"}, {"-role=nope"}, {"-role=db", "-addr=nope"}} {
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err == nil || !strings.HasPrefix(string(out), "remote: ") {
				t.Errorf("%v: err %v, output %q; want a failure with a remote: message", args, err, out)
			}
		}
	})
}

// twoTerminals runs each side alone, as two terminals would: -role=db,
// then -role=client with its address; the test types `register Note` on
// the database node's stdin when the client asks for it.
func twoTerminals(t *testing.T, bin string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := exec.CommandContext(ctx, bin, "-role=db")
	db.Env = append(os.Environ(), envDatabase+"=")
	dbIn, err := db.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	dbOut, err := db.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var dbErr bytes.Buffer
	db.Stderr = &dbErr
	if err := db.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// The client is gone: the database node would wait 10 s for
		// Proto.Actor's reconnect attempts as it closes (see runClient).
		_ = db.Process.Kill()
		_ = db.Wait()
		if t.Failed() {
			t.Logf("database node's stderr:\n%s", dbErr.String())
		}
	}()
	dbLines := lines(dbOut)
	first := <-dbLines
	addr := addrPattern.FindString(first)
	if !strings.HasPrefix(first, readyPrefix) || addr == "" {
		t.Fatalf("database node's first line %q, want %q and its address", first, readyPrefix)
	}

	client := exec.CommandContext(ctx, bin, "-role=client", "-addr="+addr)
	clientOut, err := client.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var clientErr bytes.Buffer
	client.Stderr = &clientErr
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for line := range lines(clientOut) {
		got.WriteString(line + "\n")
		if strings.Contains(line, "now type `register Note`") {
			if _, err := io.WriteString(dbIn, "register Note\n"); err != nil {
				t.Fatal(err)
			}
			if reply := <-dbLines; !strings.HasPrefix(reply, "registered model Note") {
				t.Errorf("database node answered %q", reply)
			}
		}
	}
	if err := client.Wait(); err != nil {
		t.Fatalf("client: %v\nstdout:\n%s\nstderr:\n%s", err, got.String(), clientErr.String())
	}
	for _, step := range []string{
		"3. Connect: main database connected=true ref_count=1 dialect=sqlite\n",
		"6. callback ran on the client node: model=Note table=notes\n",
		"8. Query: 2 rows\n",
		"10. client closed; the registry on the database node keeps running\n11. closing the client node\n",
	} {
		if !strings.Contains(got.String(), step) {
			t.Errorf("client output lacks %q:\n%s", step, got.String())
		}
	}
}

// lines returns r's lines; the channel closes at EOF.
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// TestClientInProcess runs runClient here, under the race detector, with
// the database node in a child process driven through its stdin.
func TestClientInProcess(t *testing.T) {
	// One remote node per process, ever: remote.Start sets gRPC's global
	// logger, which an earlier node's goroutines read unsynchronised. So
	// the test runs in a process of its own (also with -count > 1).
	if !testnode.Isolate(t) {
		return
	}
	child := testnode.Start(t, dbRole, envDatabase+"=")
	addr := child.Expect(readyPrefix)
	addr, _, _ = strings.Cut(addr, " ")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := runClient(ctx, &out, addr, testDB{child}); err != nil {
		t.Fatalf("%v\noutput so far:\n%s", err, out.String())
	}
	got := addrPattern.ReplaceAllString(out.String(), "ADDR")
	for _, step := range []string{
		"2. client node on ADDR attached to registry \"dbactor\" at ADDR",
		"3. Connect: main database connected=true ref_count=1 dialect=sqlite\n",
		"6. callback ran on the client node: model=Note table=notes\n",
		"8. Query: 2 rows\n   id=1 title=\"write the remote example\" stars=3 done=true created=2025-01-02T03:04:05Z\n",
		"9. DropSchema remote_demo, Disconnect: main database connected=false ref_count=0\n",
		"10. client closed; the registry on the database node keeps running\n11. closing the client node\n",
	} {
		if !strings.Contains(got, step) {
			t.Errorf("output lacks %q:\n%s", step, got)
		}
	}
}

// testDB is the dbNode of TestClientInProcess: commands to the child; the
// test ends the child (testnode kills it at cleanup), not runClient.
type testDB struct{ c *testnode.Child }

func (d testDB) register(_ context.Context, model string) error {
	d.c.Send("register " + model)
	d.c.Expect("registered model " + model + " ")
	return nil
}

func (d testDB) status(context.Context) error {
	d.c.Send("status")
	d.c.Expect("main database here: ")
	return nil
}

func (testDB) stop() error { return nil }

func (testDB) exits() bool { return false }
