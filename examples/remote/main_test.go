package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
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

// TestRemote runs the demo as docs/across-nodes.md runs it: the built program, with
// no flags (and with -tls), which starts itself again as the database node. The program is
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
// node (runDB on its stdin and stdout), for TestClientInProcess; with
// envCerts set, over mutual TLS with the certificates it writes there.
const (
	dbRole   = "remote-example-db"
	envCerts = "DBACTOR_REMOTE_TEST_CERTS"
)

func TestMain(m *testing.M) {
	if testnode.Role() == dbRole {
		if err := runDB(context.Background(), os.Stdin, os.Stdout, "127.0.0.1:0", os.Getenv(envDatabase), os.Getenv(envCerts)); err != nil {
			fmt.Fprintln(os.Stderr, "remote: db node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	testdb.VerifyNoLeaks(m)
}

// want is the demo's output, with addresses replaced by ADDR, the dialect
// by DIALECT and the database's description by WHERE.
const want = `   [db node] policy: every peer may lifecycle|callbacks (Policy.Default); peer "loopback" may also read|write|schema on the main database (Policy.Peers)
   [db node] db node listening on ADDR (registry "dbactor", database: WHERE)
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

// wantTLS is the output of the demo with -tls, replaced as in want, and
// the certificates' directory by DIR.
const wantTLS = `   [db node] mutual TLS: this node presents certificate "db"; wrote a throwaway CA and the "db" and "client" node certificates (PEM) into DIR
   [db node] policy: every peer may lifecycle|callbacks (Policy.Default); peer "client" may also read|write|schema on the main database (Policy.Peers)
   [db node] db node listening on ADDR (registry "dbactor", database: WHERE)
1. database node started as child process; its address: ADDR
2. client node on ADDR attached to registry "dbactor" at ADDR (messages only, no pool here)
3. Connect: main database connected=true ref_count=1 dialect=DIALECT
   over mutual TLS: this node presented certificate "client", the database node "db" (the only identity it accepts)
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

var (
	addrPattern = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	dirPattern  = regexp.MustCompile(`\(PEM\) into .*`)
)

func TestRemote(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "remote")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(t *testing.T, want, database, dialect, where string, args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
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
		got = dirPattern.ReplaceAllString(got, "(PEM) into DIR")
		w := strings.NewReplacer("DIALECT", dialect, "WHERE", where).Replace(want)
		if got != w {
			t.Fatalf("output:\n%s\nwant:\n%s", got, w)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		run(t, want, "", "sqlite", "SQLite file in a temp dir")
	})
	t.Run("postgres", func(t *testing.T) {
		run(t, want, testdb.NewPostgresDatabase(t), "postgres", "PostgreSQL/URL from -database")
	})
	t.Run("tls sqlite", func(t *testing.T) {
		run(t, wantTLS, "", "sqlite", "SQLite file in a temp dir", "-tls")
	})
	t.Run("tls postgres", func(t *testing.T) {
		run(t, wantTLS, testdb.NewPostgresDatabase(t), "postgres", "PostgreSQL/URL from -database", "-tls")
	})
	t.Run("two terminals", func(t *testing.T) { twoTerminals(t, bin, false) })
	t.Run("two terminals tls", func(t *testing.T) { twoTerminals(t, bin, true) })
	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{
			{"-role=client"}, {"-role=nope"}, {"-role=db", "-addr=nope"},
			{"-role=db", "-tls"}, {"-role=client", "-tls", "-addr=127.0.0.1:1"}, {"-certs=x"}, {"-tls", "-certs=x"}, {"-role=db", "-certs=x"},
		} {
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err == nil || !strings.HasPrefix(string(out), "remote: ") {
				t.Errorf("%v: err %v, output %q; want a failure with a remote: message", args, err, out)
			}
		}
	})
}

// twoTerminals runs each side alone, as two terminals would: -role=db,
// then -role=client with its address (with useTLS, both with -tls and the
// same -certs); the test types `register Note` on the database node's
// stdin when the client asks for it.
func twoTerminals(t *testing.T, bin string, useTLS bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var tlsArgs []string
	if useTLS {
		tlsArgs = []string{"-tls", "-certs=" + filepath.Join(t.TempDir(), "certs")}
	}
	db := exec.CommandContext(ctx, bin, append([]string{"-role=db"}, tlsArgs...)...)
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
	// Its policy (and with TLS, where its certificates are), then its address.
	var before []string
	for line := range dbLines {
		if strings.HasPrefix(line, readyPrefix) {
			before = append(before, line)
			break
		}
		before = append(before, line)
	}
	wantLines := []string{"policy: ", readyPrefix}
	if useTLS {
		wantLines = append([]string{"mutual TLS: "}, wantLines...)
	}
	ok := len(before) == len(wantLines)
	for i := 0; ok && i < len(before); i++ {
		ok = strings.HasPrefix(before[i], wantLines[i])
	}
	if !ok || !strings.Contains(before[len(before)-2], grantLine(useTLS)) {
		t.Fatalf("database node's first lines %q: want lines starting %q, its policy with %q", before, wantLines, grantLine(useTLS))
	}
	addr := addrPattern.FindString(before[len(before)-1])

	client := exec.CommandContext(ctx, bin, append([]string{"-role=client", "-addr=" + addr}, tlsArgs...)...)
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
	steps := []string{
		"3. Connect: main database connected=true ref_count=1 dialect=sqlite\n",
		"6. callback ran on the client node: model=Note table=notes\n",
		"8. Query: 2 rows\n",
		"10. client closed; the registry on the database node keeps running\n11. closing the client node\n",
	}
	if useTLS {
		steps = append(steps, tlsStep)
	}
	for _, step := range steps {
		if !strings.Contains(got.String(), step) {
			t.Errorf("client output lacks %q:\n%s", step, got.String())
		}
	}
	if !useTLS && strings.Contains(got.String(), "mutual TLS") {
		t.Errorf("plaintext client output mentions TLS:\n%s", got.String())
	}
}

// grantLine is what the database node's policy line says of the client.
func grantLine(useTLS bool) string {
	if useTLS {
		return `peer "client" may also read|write|schema on the main database`
	}
	return `peer "loopback" may also read|write|schema on the main database`
}

// tlsStep is the line the client prints after Connect over mutual TLS.
const tlsStep = "3. Connect: main database connected=true ref_count=1 dialect=sqlite\n" +
	"   over mutual TLS: this node presented certificate \"client\", the database node \"db\" (the only identity it accepts)\n"

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
// the database node in a child process driven through its stdin: in
// plaintext, and over mutual TLS.
func TestClientInProcess(t *testing.T) {
	t.Run("plaintext", func(t *testing.T) { clientInProcess(t, false) })
	t.Run("tls", func(t *testing.T) { clientInProcess(t, true) })
}

func clientInProcess(t *testing.T, useTLS bool) {
	// One remote node per process, ever: remote.Start sets gRPC's global
	// logger, which an earlier node's goroutines read unsynchronised. So
	// the test runs in a process of its own (also with -count > 1).
	if !testnode.Isolate(t) {
		return
	}
	env := []string{envDatabase + "="}
	certDir := ""
	if useTLS {
		certDir = t.TempDir()
		env = append(env, envCerts+"="+certDir)
	}
	child := testnode.Start(t, dbRole, env...)
	if policy := child.Expect("policy: "); !strings.Contains(policy, grantLine(useTLS)) {
		t.Errorf("database node's policy %q, want %q", policy, grantLine(useTLS))
	}
	addr := child.Expect(readyPrefix)
	addr, _, _ = strings.Cut(addr, " ")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := runClient(ctx, &out, addr, certDir, testDB{child}); err != nil {
		t.Fatalf("%v\noutput so far:\n%s", err, out.String())
	}
	got := addrPattern.ReplaceAllString(out.String(), "ADDR")
	if useTLS != strings.Contains(got, tlsStep) {
		t.Errorf("TLS %v, output:\n%s", useTLS, got)
	}
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

// TestClientTLSAcceptsOnlyDB checks the client's pin: a peer with a
// certificate from the same CA but another identity fails the handshake,
// in both directions; "db" passes.
func TestClientTLSAcceptsOnlyDB(t *testing.T) {
	dir := t.TempDir()
	if _, err := writeCerts(dir); err != nil {
		t.Fatal(err)
	}
	cfg, ids, err := clientTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ids.own != clientIdentity {
		t.Errorf("own identity %q, want %q", ids.own, clientIdentity)
	}
	for _, tc := range []struct {
		peer string
		ok   bool
	}{{dbIdentity, true}, {clientIdentity, false}} {
		peer, err := tls.LoadX509KeyPair(filepath.Join(dir, tc.peer+".crt"), filepath.Join(dir, tc.peer+".key"))
		if err != nil {
			t.Fatal(err)
		}
		pool := cfg.RootCAs
		// The client dials the peer.
		server := &tls.Config{Certificates: []tls.Certificate{peer}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
		client := cfg.Clone()
		client.ServerName = "127.0.0.1"
		if err := handshake(t, server, client, false); (err == nil) != tc.ok {
			t.Errorf("client dialling %q: %v, want ok=%v", tc.peer, err, tc.ok)
		}
		// The peer dials the client (the database node's connection back).
		server = cfg.Clone()
		server.ClientCAs, server.ClientAuth = pool, tls.RequireAndVerifyClientCert
		client = &tls.Config{Certificates: []tls.Certificate{peer}, RootCAs: pool, ServerName: "127.0.0.1"}
		if err := handshake(t, server, client, true); (err == nil) != tc.ok {
			t.Errorf("%q dialling the client: %v, want ok=%v", tc.peer, err, tc.ok)
		}
	}
}

// handshake runs one TLS handshake over loopback TCP and returns the
// error of the side whose config came from clientTLS (the server when
// atServer). Both sides read afterwards: with TLS 1.3 the server checks
// the client's certificate after the client's handshake returned, and
// the client learns the verdict on its first read.
func handshake(t *testing.T, server, client *tls.Config, atServer bool) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	errs := make(chan error, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			errs <- err
			return
		}
		defer conn.Close()
		s := tls.Server(conn, server)
		s.SetDeadline(time.Now().Add(10 * time.Second))
		if err := s.Handshake(); err != nil {
			errs <- err
			return
		}
		_, err = s.Write([]byte{1})
		errs <- err
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := tls.Client(conn, client)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	cerr := c.Handshake()
	if cerr == nil {
		_, cerr = c.Read(make([]byte, 1))
	} else {
		conn.Close()
	}
	serr := <-errs
	if atServer {
		return serr
	}
	return cerr
}
