package healthhttp

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/messages"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeDB is a Database whose Status is a function.
type fakeDB struct {
	name   string
	url    string
	status func(ctx context.Context) (client.Status, error)
}

func (f *fakeDB) Name() string            { return f.name }
func (f *fakeDB) Dialect() client.Dialect { return client.SQLite }
func (f *fakeDB) URL() string             { return f.url }
func (f *fakeDB) Pool() *pgxpool.Pool     { return nil }
func (f *fakeDB) DB() *sql.DB             { return nil }
func (f *fakeDB) Status(ctx context.Context) (client.Status, error) {
	return f.status(ctx)
}

func healthy(context.Context) (client.Status, error) {
	return client.Status{Connected: true, RefCount: 1, Health: client.Healthy, Since: time.Unix(1700000000, 0)}, nil
}

// hang answers only when ctx ends, as a request to a stuck actor does.
func hang(ctx context.Context) (client.Status, error) {
	<-ctx.Done()
	return client.Status{}, fmt.Errorf("dbactor: status: %w", &messages.Error{Code: messages.Code_CODE_TIMEOUT, Message: "no reply"})
}

func get(t *testing.T, h http.Handler, target string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return rec.Code, string(body), rec.Result().Header
}

func TestProbes(t *testing.T) {
	t.Parallel()
	var liveErr error
	dbs := []Database{
		&fakeDB{name: "", status: healthy},
		&fakeDB{name: "analytics", status: healthy},
	}
	h := New(Source{Live: func(context.Context) error { return liveErr }, Databases: dbs, ProbeTimeout: 50 * time.Millisecond})

	code, body, hdr := get(t, h, "/livez")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	require.Equal(t, "text/plain; charset=utf-8", hdr.Get("Content-Type"))
	require.Equal(t, "no-store", hdr.Get("Cache-Control"))
	code, body, _ = get(t, h, "/readyz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	code, body, _ = get(t, h, "/readyz?verbose")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "[+]registry ok\n[+]database main ok\n[+]database analytics ok\nreadyz check passed\n", body)
	code, body, _ = get(t, h, "/livez?verbose=1")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "[+]registry ok\nlivez check passed\n", body)

	dbs[1].(*fakeDB).status = func(context.Context) (client.Status, error) {
		return client.Status{Connected: true, Health: client.Degraded,
			LastError: &messages.Error{Code: messages.Code_CODE_CONNECT_FAILED, Message: "dial tcp 10.1.2.3:5432: user=bob"}}, nil
	}
	dbs[0].(*fakeDB).status = func(context.Context) (client.Status, error) { return client.Status{}, nil }
	code, body, _ = get(t, h, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "[+]registry ok\n[-]database main failed: not connected\n[-]database analytics failed: degraded\nreadyz check failed\n", body)
	code, _, _ = get(t, h, "/livez")
	require.Equal(t, http.StatusOK, code, "databases do not make the process dead")

	code, body, _ = get(t, h, "/status")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, "10.1.2.3")
	require.NotContains(t, body, "bob")
	var st statusJSON
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	require.True(t, st.Live)
	require.False(t, st.Ready)
	require.Equal(t, "connect_failed", st.Databases[1].LastError)
	require.Equal(t, "degraded", st.Databases[1].Health)
	require.Equal(t, "not connected", st.Databases[0].Reason)

	liveErr = fmt.Errorf("dbactor: list databases: %w", messages.ErrClosed)
	code, body, _ = get(t, h, "/livez")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "[-]registry failed: closed\nlivez check failed\n", body)
}

// A database actor that does not answer costs the probe its bound, not a
// hang, and is reported as not ready; the registry actor likewise.
func TestProbesAreBounded(t *testing.T) {
	t.Parallel()
	h := New(Source{
		Live:         func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
		Databases:    []Database{&fakeDB{name: "stuck", status: hang}, &fakeDB{name: "fine", status: healthy}},
		ProbeTimeout: 100 * time.Millisecond,
	})
	start := time.Now()
	code, body, _ := get(t, h, "/readyz")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "[-]registry failed: timed out\n[-]database stuck failed: status timed out\n[+]database fine ok\nreadyz check failed\n", body)
	code, body, _ = get(t, h, "/status")
	require.Equal(t, http.StatusOK, code)
	var st statusJSON
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	require.Equal(t, "timeout", st.Databases[0].StatusError)
	require.Equal(t, "timed out", st.Registry)
	require.False(t, st.Live)
}

func TestMethodsAndPaths(t *testing.T) {
	t.Parallel()
	h := New(Source{Live: func(context.Context) error { return nil }})
	for _, p := range []string{"/livez", "/readyz", "/status", "/status.html", "/"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, p, nil))
		require.Equal(t, http.StatusOK, rec.Code, "HEAD %s", p)
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, p, nil))
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code, "POST %s", p)
	}
	code, _, _ := get(t, h, "/nope")
	require.Equal(t, http.StatusNotFound, code)
	code, body, hdr := get(t, h, "/")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "text/html; charset=utf-8", hdr.Get("Content-Type"))
	require.Contains(t, body, `<meta http-equiv="refresh" content="2">`)
}

// The page escapes what it shows: a database name is data, not markup.
func TestPageEscapes(t *testing.T) {
	t.Parallel()
	h := New(Source{Live: func(context.Context) error { return nil },
		Databases: []Database{&fakeDB{name: "<script>alert(1)</script>", status: healthy}}})
	_, body, _ := get(t, h, "/status.html")
	require.NotContains(t, body, "<script>")
	require.Contains(t, body, "&lt;script&gt;")
}

func TestMount(t *testing.T) {
	t.Parallel()
	health := New(Source{Live: func(context.Context) error { return nil }})
	user := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "user "+r.URL.Path) })

	root := Mount("", health, user)
	for _, p := range []string{"/livez", "/readyz"} {
		code, body, _ := get(t, root, p)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "ok\n", body)
	}
	_, body, _ := get(t, root, "/")
	require.Equal(t, "user /", body, `prefix "": "/" stays the user's`)
	_, body, _ = get(t, root, "/livez/x")
	require.Equal(t, "user /livez/x", body)
	_, body, hdr := get(t, root, "/status")
	require.Equal(t, "application/json", hdr.Get("Content-Type"))
	require.Contains(t, body, `"live": true`)

	for _, prefix := range []string{"/ops", "ops/", "/ops/"} {
		m := Mount(prefix, health, user)
		code, body, _ := get(t, m, "/ops/readyz")
		require.Equal(t, http.StatusOK, code, prefix)
		require.Equal(t, "ok\n", body)
		code, body, _ = get(t, m, "/ops/")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "dbactor status")
		code, _, _ = get(t, m, "/ops/nope")
		require.Equal(t, http.StatusNotFound, code)
		code, _, hdr := get(t, m, "/ops?verbose")
		require.Equal(t, http.StatusMovedPermanently, code)
		require.Equal(t, "/ops/?verbose", hdr.Get("Location"))
		_, body, _ = get(t, m, "/readyz")
		require.Equal(t, "user /readyz", body)
		_, body, _ = get(t, m, "/opsx/livez")
		require.Equal(t, "user /opsx/livez", body)
	}
}

func TestMountNilIsDefaultServeMux(t *testing.T) {
	t.Parallel()
	http.HandleFunc("/healthhttp-test-default-mux", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "default mux") })
	m := Mount("/ops", New(Source{Live: func(context.Context) error { return nil }}), nil)
	_, body, _ := get(t, m, "/healthhttp-test-default-mux")
	require.Equal(t, "default mux", body)
}

func TestLabel(t *testing.T) {
	t.Parallel()
	require.Equal(t, "main", label(""))
	require.Equal(t, "analytics", label("analytics"))
	require.Equal(t, `"main"`, label("main"), "an extra called main is not the main database")
	require.Equal(t, `"two words"`, label("two words"))
	require.Equal(t, `"evil\n[+]database x ok"`, label("evil\n[+]database x ok"), "a name cannot forge a check line")
}

func TestPublicURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://bob:xxxxx@db.example:5432/app?sslmode=disable&sslpassword=xxxxx": "postgres://db.example:5432/app",
		"postgresql+asyncpg://bob@h1,h2/app":                                         "postgresql+asyncpg://h1,h2/app",
		"sqlite:///tmp/app.db":                                                       "sqlite:///tmp/app.db",
		"sqlite:///:memory:":                                                         "sqlite:///:memory:",
		"host=db user=bob password=xxxxx":                                            "",
		"file:app.db?mode=ro":                                                        "",
	} {
		require.Equal(t, want, publicURL(in), in)
	}
}

func TestErrorClass(t *testing.T) {
	t.Parallel()
	require.Equal(t, "", errorClass(nil))
	require.Equal(t, "timeout", errorClass(fmt.Errorf("x: %w", context.DeadlineExceeded)))
	require.Equal(t, "timeout", errorClass(&messages.Error{Code: messages.Code_CODE_TIMEOUT}))
	require.Equal(t, "connect_failed", errorClass(&messages.Error{Code: messages.Code_CODE_CONNECT_FAILED, Message: "secret"}))
	require.Equal(t, "closed", errorClass(messages.ErrClosed))
	require.Equal(t, "error", errorClass(errors.New("driver text with a password")))
	require.False(t, strings.Contains(errorClass(errors.New("pw")), "pw"))
}
