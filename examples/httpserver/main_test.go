package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dbactor/dbactor/internal/testdb"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// syncBuffer is what run prints, safe to read while run writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan string // each line as it is written
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for line := range strings.Lines(string(p)) {
		select {
		case b.ch <- line:
		default:
		}
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The example serves on a free port, answers requests through the
// registry's pool, and exits cleanly when its context is cancelled (what
// SIGINT does in main). It runs on SQLite, and on PostgreSQL when
// DBACTOR_TEST_DATABASE is set (make test sets it).
func TestHTTPServer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		url     func(t *testing.T) string
		dialect string
	}{
		{"sqlite", func(*testing.T) string { return "" }, "sqlite"},
		{"postgres", func(t *testing.T) string { return testdb.NewPostgresDatabase(t) }, "postgres"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbURL := tc.url(t)
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			out := &syncBuffer{ch: make(chan string, 4)}
			done := make(chan error, 1)
			go func() { done <- run(ctx, "127.0.0.1:0", dbURL, out) }()

			var addr string
			select {
			case line := <-out.ch:
				_, err := fmt.Sscanf(line, "listening on http://%s", &addr)
				if err != nil {
					t.Fatalf("first line %q: %v", line, err)
				}
			case err := <-done:
				t.Fatalf("run returned before listening: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("the server did not start")
			}

			for i := 1; i <= 3; i++ {
				body := get(t, "http://"+addr+"/")
				want := fmt.Sprintf("visit %d, served from %s\n", i, tc.dialect)
				if !strings.HasPrefix(body, want) {
					t.Fatalf("request %d: got %q, want prefix %q", i, body, want)
				}
				if tc.dialect == "postgres" && !strings.Contains(body, "PostgreSQL ") {
					t.Fatalf("request %d: no pgx pool line in %q", i, body)
				}
			}

			stop() // SIGINT
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run: %v\noutput:\n%s", err, out.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("run did not return after its context was cancelled")
			}
			if !strings.Contains(out.String(), "shut down: requests finished, registry disconnected") {
				t.Fatalf("output:\n%s", out.String())
			}
			if conn, err := net.Dial("tcp", addr); err == nil {
				conn.Close()
				t.Fatalf("%s still accepts connections", addr)
			}
		})
	}
}

// A database that cannot be opened: the program fails (here already at
// CreateAll, which connects on demand) without ever listening.
func TestHTTPServerConnectFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	bad := "sqlite:///" + filepath.Join(t.TempDir(), "missing", "app.db") + "?mode=rw"
	var out syncBuffer
	err = run(context.Background(), addr, bad, &out)
	if err == nil || !strings.Contains(err.Error(), "main database") {
		t.Fatalf("run: got %v, want the main database's failure", err)
	}
	if strings.Contains(out.String(), "listening") {
		t.Fatalf("it listened:\n%s", out.String())
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Fatalf("%s accepts connections", addr)
	}
}

// get GETs url and returns the body of a 200.
func get(t *testing.T, url string) string {
	t.Helper()
	code, _, body := fetch(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d: %s", url, code, body)
	}
	return body
}

// fetch GETs url and returns the status, the Retry-After header and the
// body, whatever the status.
func fetch(t *testing.T, url string) (int, string, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
}

// serve starts run on a free port with dbURL and returns its address and
// a stop that waits for it; a ctx-cancelled run must return nil.
func serve(t *testing.T, dbURL string) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{ch: make(chan string, 4)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", dbURL, out) }()
	select {
	case line := <-out.ch:
		if _, err := fmt.Sscanf(line, "listening on http://%s", &addr); err != nil {
			t.Fatalf("first line %q: %v", line, err)
		}
	case err := <-done:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not start")
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("run did not return after its context was cancelled")
		}
	}
	t.Cleanup(stop)
	return addr, stop
}

// A query that fails gets a 5xx with a text of the example's own, never the
// driver's (which names tables, users, hosts): 500 when the server
// rejected the statement, 503 with Retry-After when the server is gone.
// The probes follow: /readyz turns 503 once the database is degraded,
// while /livez stays 200.
func TestHTTPServerFailingQuery(t *testing.T) {
	const pw = "httpserver-s3cret"
	c := testdb.StartCluster(t, testdb.ClusterOptions{Password: pw})
	addr, stop := serve(t, c.DSN(pw)+"&connect_timeout=1")
	if code, _, body := fetch(t, "http://"+addr+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz: %d %q", code, body)
	}

	// The server rejects the statement: the table is gone.
	admin, err := pgx.Connect(context.Background(), c.DSN(pw))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(context.Background(), "DROP TABLE visits"); err != nil {
		t.Fatal(err)
	}
	admin.Close(context.Background())
	code, _, body := fetch(t, "http://"+addr+"/")
	if code != http.StatusInternalServerError || body != "internal error\n" {
		t.Fatalf("dropped table: got %d %q, want 500 \"internal error\"", code, body)
	}

	// The server goes away.
	c.Stop(t)
	code, retry, body := fetch(t, "http://"+addr+"/")
	if code != http.StatusServiceUnavailable || retry == "" || !strings.Contains(body, "unavailable") {
		t.Fatalf("server stopped: got %d (Retry-After %q) %q, want 503 with Retry-After", code, retry, body)
	}
	for _, leak := range []string{pw, "postgres", "visits", "127.0.0.1", strconv.Itoa(c.Port)} {
		if strings.Contains(body, leak) {
			t.Fatalf("the answer %q gives away %q", body, leak)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond) // polling an HTTP probe, as an orchestrator does
	defer tick.Stop()
	for {
		code, _, _ := fetch(t, "http://"+addr+"/readyz")
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 20 s after the server stopped", code)
		}
		<-tick.C
	}
	if code, _, body := fetch(t, "http://"+addr+"/livez"); code != http.StatusOK {
		t.Fatalf("/livez during an outage: %d %q", code, body)
	}
	c.Start(t)
	stop()
}
