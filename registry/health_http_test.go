package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// healthStatus is the part of /status the tests read.
type healthStatus struct {
	Live      bool   `json:"live"`
	Ready     bool   `json:"ready"`
	Registry  string `json:"registry"`
	Databases []struct {
		Name         string     `json:"name"`
		Label        string     `json:"label"`
		Dialect      string     `json:"dialect"`
		URL          string     `json:"url"`
		Ready        bool       `json:"ready"`
		Reason       string     `json:"reason"`
		Connected    bool       `json:"connected"`
		RefCount     int        `json:"ref_count"`
		Health       string     `json:"health"`
		Since        *time.Time `json:"since"`
		LastError    string     `json:"last_error"`
		FailedProbes int        `json:"failed_probes"`
		StatusError  string     `json:"status_error"`
		PGXPool      *struct {
			Total, Idle, Acquired, Max int32
		} `json:"pgxpool"`
		SQLDB *struct {
			Open    int `json:"open"`
			MaxOpen int `json:"max_open"`
		} `json:"sql_db"`
	} `json:"databases"`
}

// healthServer serves registry.HealthHandler(reg) on 127.0.0.1 until the
// test ends.
func healthServer(t *testing.T, reg *registry.Registry) string {
	t.Helper()
	srv := httptest.NewServer(registry.HealthHandler(reg))
	t.Cleanup(srv.Close)
	return srv.URL
}

type healthReply struct {
	code   int
	body   string
	header http.Header
}

// healthGet fetches url with a client that keeps no idle connection.
func healthGet(t *testing.T, url string) healthReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return healthReply{resp.StatusCode, string(body), resp.Header}
}

func healthJSON(t *testing.T, url string) healthStatus {
	t.Helper()
	r := healthGet(t, url+"/status")
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	var st healthStatus
	require.NoError(t, json.Unmarshal([]byte(r.body), &st), r.body)
	return st
}

// awaitHealth polls url until ok accepts its reply, failing after within;
// every reply goes through each check first.
func awaitHealth(t *testing.T, url string, within time.Duration, ok func(healthReply) bool, checks ...func(healthReply)) healthReply {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond) // the poll interval, as a prober's
	defer tick.Stop()
	for {
		r := healthGet(t, url)
		for _, c := range checks {
			c(r)
		}
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not as expected within %s; last reply %d:\n%s", url, within, r.code, r.body)
		}
		<-tick.C
	}
}

// Every endpoint through a registry's life: not connected, connected,
// disconnected, closed.
func TestHealthHandlerEndpoints(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		t.Parallel()
		reg := newRegistry(t, newSystem(t), registry.Config{
			Database: b.url(t),
			Extra:    map[string]string{"analytics": b.url(t)},
		})
		url := healthServer(t, reg)
		ctx := testCtx(t)

		// Not connected: alive, not ready.
		r := healthGet(t, url+"/livez")
		require.Equal(t, http.StatusOK, r.code)
		require.Equal(t, "ok\n", r.body)
		r = healthGet(t, url+"/readyz")
		require.Equal(t, http.StatusServiceUnavailable, r.code)
		require.Equal(t, "[+]registry ok\n[-]database main failed: not connected\n[-]database analytics failed: not connected\nreadyz check failed\n", r.body)
		st := healthJSON(t, url)
		require.True(t, st.Live)
		require.False(t, st.Ready)
		require.Len(t, st.Databases, 2)
		require.False(t, st.Databases[0].Connected)
		require.Equal(t, "unknown", st.Databases[0].Health)
		require.Nil(t, st.Databases[0].Since)
		require.Nil(t, st.Databases[0].PGXPool)
		require.Nil(t, st.Databases[0].SQLDB)

		// Connected and healthy.
		require.NoError(t, reg.Connect(ctx))
		r = healthGet(t, url+"/readyz")
		require.Equal(t, http.StatusOK, r.code)
		require.Equal(t, "ok\n", r.body)
		require.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))
		r = healthGet(t, url+"/readyz?verbose")
		require.Equal(t, http.StatusOK, r.code)
		require.Equal(t, "[+]registry ok\n[+]database main ok\n[+]database analytics ok\nreadyz check passed\n", r.body)
		require.Equal(t, http.StatusOK, healthGet(t, url+"/livez").code)
		st = healthJSON(t, url)
		require.True(t, st.Live)
		require.True(t, st.Ready)
		require.Equal(t, "ok", st.Registry)
		for i, name := range []string{"", "analytics"} {
			d := st.Databases[i]
			require.Equal(t, name, d.Name)
			require.Equal(t, b.name, d.Dialect)
			require.True(t, d.Ready)
			require.Empty(t, d.Reason)
			require.True(t, d.Connected)
			require.Equal(t, 1, d.RefCount)
			require.Equal(t, "healthy", d.Health)
			require.NotNil(t, d.Since)
			require.Empty(t, d.LastError)
			require.Empty(t, d.StatusError)
			require.Zero(t, d.FailedProbes)
			require.NotEmpty(t, d.URL)
			if b.name == "postgres" {
				require.NotNil(t, d.PGXPool, "pgxpool stats")
				require.Positive(t, d.PGXPool.Max)
				require.Positive(t, d.PGXPool.Total, "the connect's ping left a connection")
				require.Nil(t, d.SQLDB)
			} else {
				require.NotNil(t, d.SQLDB, "sql.DB stats")
				require.Positive(t, d.SQLDB.Open)
				require.Nil(t, d.PGXPool)
			}
		}
		require.Equal(t, "main", st.Databases[0].Label)

		// One database disconnected: not ready, still alive.
		analytics, err := reg.Extra("analytics")
		require.NoError(t, err)
		_, err = analytics.Disconnect(ctx)
		require.NoError(t, err)
		r = healthGet(t, url+"/readyz")
		require.Equal(t, http.StatusServiceUnavailable, r.code)
		require.Equal(t, "[+]registry ok\n[+]database main ok\n[-]database analytics failed: not connected\nreadyz check failed\n", r.body)
		require.Equal(t, http.StatusOK, healthGet(t, url+"/livez").code)
		_, err = analytics.Connect(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, healthGet(t, url+"/readyz").code)

		// Closed: neither alive nor ready, and the probe says so at once.
		require.NoError(t, reg.Close(ctx))
		start := time.Now()
		r = healthGet(t, url+"/livez")
		require.Equal(t, http.StatusServiceUnavailable, r.code)
		require.Equal(t, "[-]registry failed: closed\nlivez check failed\n", r.body)
		r = healthGet(t, url+"/readyz")
		require.Equal(t, http.StatusServiceUnavailable, r.code)
		require.Equal(t, "[-]registry failed: closed\n[-]database main failed: status closed\n[-]database analytics failed: status closed\nreadyz check failed\n", r.body)
		require.Less(t, time.Since(start), 900*time.Millisecond, "a closed registry answers without waiting for the probe bound")
		st = healthJSON(t, url)
		require.False(t, st.Live)
		require.Equal(t, "closed", st.Databases[0].StatusError)
	})
}

// blockAt makes the actor pid() block at point on messages of type M until
// the test ends (released before the registry closes).
func blockAt[M any](t *testing.T, sys *actor.ActorSystem, point faults.Point, pid func() *actor.PID) {
	release := make(chan struct{})
	disarm := faults.For(sys).Arm(point, func(self *actor.PID, msg any) {
		if _, ok := msg.(M); ok && self.Equal(pid()) {
			<-release
		}
	})
	t.Cleanup(func() { disarm(); close(release) })
}

// A database actor that does not answer makes the database not ready
// within the probe bound; a registry actor that does not answer makes the
// process not alive. Neither hangs the probe.
func TestHealthHandlerBoundsStuckActors(t *testing.T) {
	t.Parallel()
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{
		Database: backends[0].url(t),
		Extra:    map[string]string{"analytics": backends[0].url(t)},
	})
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))
	url := healthServer(t, reg)
	analytics, err := reg.Extra("analytics")
	require.NoError(t, err)

	blockAt[*messages.GetStatus](t, sys, faults.DatabaseReceive, analytics.PID)
	start := time.Now()
	r := healthGet(t, url+"/readyz")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, http.StatusServiceUnavailable, r.code)
	require.Equal(t, "[+]registry ok\n[+]database main ok\n[-]database analytics failed: status timed out\nreadyz check failed\n", r.body)
	require.Equal(t, http.StatusOK, healthGet(t, url+"/livez").code, "a stuck database actor is not a dead process")
	st := healthJSON(t, url)
	require.Equal(t, "timeout", st.Databases[1].StatusError)

	blockAt[*messages.ListDatabases](t, sys, faults.RegistryReceive, reg.PID)
	start = time.Now()
	r = healthGet(t, url+"/livez")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, http.StatusServiceUnavailable, r.code)
	require.Equal(t, "[-]registry failed: timed out\nlivez check failed\n", r.body)
}

// A connect that hangs on a host that accepts and never answers: the
// process stays alive, and the database is not ready — its actor, busy
// connecting, does not answer in time, and the probe says so within its
// bound instead of waiting for connect_timeout.
func TestHealthHandlerDuringSlowConnect(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: backends[0].url(t),
		Extra:    map[string]string{"slow": "postgres://app:pw-slow-x1@" + testdb.Blackhole(t) + "/app?sslmode=disable&connect_timeout=6"},
	})
	url := healthServer(t, reg)
	connected := make(chan error, 1)
	go func() { connected <- reg.Connect(testCtx(t)) }()

	r := awaitHealth(t, url+"/readyz", 10*time.Second, func(r healthReply) bool {
		return strings.Contains(r.body, "[-]database slow failed: status timed out")
	})
	require.Equal(t, http.StatusServiceUnavailable, r.code)
	require.NotContains(t, r.body, "pw-slow-x1")
	start := time.Now()
	require.Equal(t, http.StatusOK, healthGet(t, url+"/livez").code, "a hanging connect is not a dead process")
	require.Less(t, time.Since(start), time.Second)
	select {
	case err := <-connected:
		t.Fatalf("the connect was to hang until connect_timeout, not return now: %v", err)
	default:
	}
	require.Error(t, <-connected, "connect_timeout fired")
	r = healthGet(t, url+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, r.code)
	require.Contains(t, r.body, "[-]database slow failed: not connected\n")
	require.Contains(t, r.body, "[-]database main failed: not connected\n", "all or nothing: rolled back")
}

// A real outage: a throwaway PostgreSQL server stopped, then frozen, under
// a connected registry makes /readyz 503 (degraded) while /livez stays
// 200, and 200 again once it is back. The URL's user and password, and the server's
// address in the probes' text, never appear in any body.
func TestHealthHandlerOutage(t *testing.T) {
	const adminPW = "adm1n-Pw-hc"
	const user, password = "hc_operator_x7", "s3cret-HC-pw-91"
	c := testdb.StartCluster(t, testdb.ClusterOptions{Password: adminPW})
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, c.DSN(adminPW))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", user, password))
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))

	sys := newSystem(t)
	addr := "127.0.0.1:" + strconv.Itoa(c.Port)
	reg := newRegistry(t, sys, registry.Config{
		Database: fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable&connect_timeout=2", user, password, addr),
		Extra:    map[string]string{"analytics": backends[0].url(t)},
		Health:   actors.HealthOptions{Interval: 50 * time.Millisecond, Timeout: time.Second, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond},
	})
	url := healthServer(t, reg)

	// Every body of every endpoint is checked for the secrets; the probes'
	// text bodies also for the server's address.
	noSecrets := func(r healthReply) {
		t.Helper()
		for _, s := range []string{user, password, adminPW} {
			require.NotContains(t, r.body, s)
		}
	}
	noAddress := func(r healthReply) {
		t.Helper()
		require.NotContains(t, r.body, addr)
		require.NotContains(t, r.body, strconv.Itoa(c.Port))
	}
	everyEndpoint := func() {
		t.Helper()
		for _, p := range []string{"/livez?verbose", "/readyz?verbose"} {
			r := healthGet(t, url+p)
			noSecrets(r)
			noAddress(r)
		}
		for _, p := range []string{"/status", "/status.html", "/"} {
			noSecrets(healthGet(t, url+p))
		}
	}
	everyEndpoint()

	require.NoError(t, reg.Connect(ctx))
	r := healthGet(t, url+"/readyz")
	require.Equal(t, http.StatusOK, r.code, r.body)
	st := healthJSON(t, url)
	require.Equal(t, "postgres://"+addr+"/postgres", st.Databases[0].URL, "no user, password or query")
	everyEndpoint()

	c.Stop(t)
	alive := func(r healthReply) {
		t.Helper()
		require.Equal(t, http.StatusOK, healthGet(t, url+"/livez").code, "an outage must not make the process dead")
	}
	r = awaitHealth(t, url+"/readyz", 20*time.Second, func(r healthReply) bool { return r.code == http.StatusServiceUnavailable },
		noSecrets, noAddress, alive)
	require.Equal(t, "[+]registry ok\n[-]database main failed: degraded\n[+]database analytics ok\nreadyz check failed\n", r.body)
	st = healthJSON(t, url)
	require.False(t, st.Ready)
	require.True(t, st.Live)
	require.Equal(t, "degraded", st.Databases[0].Health)
	require.Equal(t, "connect_failed", st.Databases[0].LastError)
	require.True(t, st.Databases[0].Connected, "an outage changes no count")
	require.Equal(t, "healthy", st.Databases[1].Health)
	everyEndpoint()

	c.Start(t)
	awaitHealth(t, url+"/readyz", 20*time.Second, func(r healthReply) bool { return r.code == http.StatusOK }, noSecrets, noAddress, alive)
	st = healthJSON(t, url)
	require.True(t, st.Ready)
	require.Equal(t, "healthy", st.Databases[0].Health)
	require.Empty(t, st.Databases[0].LastError)
	everyEndpoint()

	// Frozen (SIGSTOP: connections open, nothing answers): not ready, the
	// last error a timeout; alive all along; ready again once thawed.
	c.Freeze(t)
	r = awaitHealth(t, url+"/readyz", 20*time.Second, func(r healthReply) bool { return r.code == http.StatusServiceUnavailable },
		noSecrets, noAddress, alive)
	require.Contains(t, r.body, "[-]database main failed: degraded\n")
	require.Equal(t, "timeout", healthJSON(t, url).Databases[0].LastError)
	c.Thaw(t)
	awaitHealth(t, url+"/readyz", 20*time.Second, func(r healthReply) bool { return r.code == http.StatusOK }, noSecrets, noAddress, alive)
	everyEndpoint()

	require.NoError(t, reg.Close(ctx))
	require.Equal(t, http.StatusServiceUnavailable, healthGet(t, url+"/livez").code)
	everyEndpoint()
}

// Serve with WithHealthHandler: the health routes answer, the server's own
// handler keeps every other route.
func TestServeWithHealthHandler(t *testing.T) {
	t.Parallel()
	user := http.NewServeMux()
	user.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello from the app") })
	user.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) { fmt.Fprint(w, "app root "+req.URL.Path) })

	for _, tc := range []struct {
		prefix string
		health []string // health paths under this prefix
		app    []string // paths the app keeps
	}{
		{"/ops", []string{"/ops/livez", "/ops/readyz"}, []string{"/hello", "/readyz", "/"}},
		{"", []string{"/livez", "/readyz"}, []string{"/hello", "/", "/ops/readyz"}},
	} {
		t.Run("prefix="+tc.prefix, func(t *testing.T) {
			reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
			ln := lifespanListener(t)
			cancel, done := serveUntilCancel(t, reg, &http.Server{Handler: user}, ln, registry.WithHealthHandler(tc.prefix))
			base := "http://" + ln.Addr().String()
			for _, p := range tc.health {
				r := healthGet(t, base+p)
				require.Equal(t, http.StatusOK, r.code, p)
				require.Equal(t, "ok\n", r.body, p)
			}
			st := healthJSON(t, base+tc.prefix)
			require.True(t, st.Ready, "Serve connected the registry before serving")
			page := healthGet(t, base+tc.prefix+"/status.html")
			require.Equal(t, http.StatusOK, page.code)
			require.Contains(t, page.body, `data-database="main"`)
			for _, p := range tc.app {
				r := healthGet(t, base+p)
				require.Equal(t, http.StatusOK, r.code, p)
				require.True(t, strings.HasPrefix(r.body, "hello from the app") || strings.HasPrefix(r.body, "app root "+p), "%s: %s", p, r.body)
			}
			cancel()
			require.NoError(t, waitReturn(t, done))
		})
	}

	t.Run("nil Handler is DefaultServeMux", func(t *testing.T) {
		http.HandleFunc("/dbactor-health-test-default-mux", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "default mux") })
		reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
		ln := lifespanListener(t)
		cancel, done := serveUntilCancel(t, reg, &http.Server{}, ln, registry.WithHealthHandler("/ops/"))
		base := "http://" + ln.Addr().String()
		require.Equal(t, "default mux", healthGet(t, base+"/dbactor-health-test-default-mux").body)
		require.Equal(t, http.StatusOK, healthGet(t, base+"/ops/livez").code)
		cancel()
		require.NoError(t, waitReturn(t, done))
	})
}

// chromium finds a headless Chromium: $DBACTOR_CHROMIUM, else chromium (or
// chromium-browser, google-chrome) on PATH. Without one the test skips,
// and fails under CI=true (scripts/ensure-chromium.sh installs it).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DBACTOR_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "this test needs headless Chromium: install Debian's chromium (scripts/ensure-chromium.sh does, as root) or set DBACTOR_CHROMIUM"
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg + " (CI=true: browser tests must not be skipped)")
	}
	t.Skip(msg)
	return ""
}

// runChromium runs headless Chromium with args and a profile of its own,
// bounded, and returns its standard output.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--no-default-browser-check", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// The status page in a real browser: the rendered DOM shows every database
// with its health, and a screenshot of it lands in the test's artifacts.
func TestHealthPageInChromium(t *testing.T) {
	bin := chromium(t)
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: backends[0].url(t),
		Extra:    map[string]string{"analytics": backends[0].url(t), "reports": backends[0].url(t)},
	})
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))
	reports, err := reg.Extra("reports")
	require.NoError(t, err)
	_, err = reports.ForceDisconnect(ctx)
	require.NoError(t, err)
	url := healthServer(t, reg) + "/status.html"

	dom := string(runChromium(t, bin, "--dump-dom", url))
	for _, row := range []struct{ name, health, ready string }{
		{"main", "healthy", "true"},
		{"analytics", "healthy", "true"},
		{"reports", "unknown", "false"},
	} {
		require.Contains(t, dom, fmt.Sprintf(`data-database="%s" data-health="%s" data-ready="%s"`, row.name, row.health, row.ready), dom)
		require.Contains(t, dom, fmt.Sprintf(`<td class="name">%s</td>`, row.name))
	}
	require.Contains(t, dom, `<td class="ok">ready</td>`)
	require.Contains(t, dom, `<td class="bad">not connected</td>`)
	require.Contains(t, dom, `<span id="verdict" class="bad">not ready</span>`)

	shot := filepath.Join(t.ArtifactDir(), "status-page.png")
	runChromium(t, bin, "--screenshot="+shot, "--window-size=1200,800", "--hide-scrollbars", url)
	b, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.NotEmpty(t, b)
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, 1200, img.Bounds().Dx())
	t.Logf("screenshot of the status page: %s (kept with go test -artifacts)", shot)
}

// ExampleHealthHandler serves a registry's probes: /readyz turns 200 once
// every database is connected and healthy.
func ExampleHealthHandler() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "dbactor-example-")
	defer os.RemoveAll(dir)
	reg, err := registry.New(nil, registry.Config{
		Database: "sqlite:///" + filepath.Join(dir, "app.db"),
		Extra:    map[string]string{"analytics": "sqlite:///" + filepath.Join(dir, "analytics.db")},
	})
	if err != nil {
		panic(err)
	}
	defer reg.Close(ctx)

	srv := httptest.NewServer(registry.HealthHandler(reg)) // or Serve(…, WithHealthHandler("/ops"))
	defer srv.Close()
	get := func(path string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("GET %s → %d\n%s", path, resp.StatusCode, body)
	}

	get("/readyz")
	if err := reg.Connect(ctx); err != nil {
		panic(err)
	}
	get("/readyz")
	get("/readyz?verbose")
	get("/livez")
	http.DefaultClient.CloseIdleConnections()
	// Output:
	// GET /readyz → 503
	// [+]registry ok
	// [-]database main failed: not connected
	// [-]database analytics failed: not connected
	// readyz check failed
	// GET /readyz → 200
	// ok
	// GET /readyz?verbose → 200
	// [+]registry ok
	// [+]database main ok
	// [+]database analytics ok
	// readyz check passed
	// GET /livez → 200
	// ok
}
