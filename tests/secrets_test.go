package tests

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// collector is everything a test saw: logs (the registry's and Proto.Actor's
// own), events, errors, statuses, replies, String() and %+v output.
type collector struct {
	mu    sync.Mutex
	b     strings.Builder
	items int
}

func (c *collector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items++
	return c.b.Write(p)
}

func (c *collector) add(what string, vs ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range vs {
		c.items++
		fmt.Fprintf(&c.b, "%s: %v | %+v | %#v\n", what, v, v, v)
		if err, ok := v.(error); ok && err != nil {
			fmt.Fprintf(&c.b, "%s: %s\n", what, err.Error())
		}
	}
}

func (c *collector) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

// TestSecretsNeverLeak configures a registry with a password in every form
// a URL can carry one (userinfo, percent-encoded, query parameter, libpq
// key=value), right and wrong, reachable and not, with SQL echo on; drives
// it through connects that fail, queries that fail, schema errors, an
// outage, a crash whose panic value is a URL, and a panicking event hook;
// collects every log line, event, error, status, reply and String(); and
// scans all of it for the passwords.
func TestSecretsNeverLeak(t *testing.T) {
	const (
		right     = "Corr3ct-Horse-Battery"
		wrong     = "Wr0ng-Userinfo-Secret"
		inQuery   = "Qu3ry-Param-Secret"
		inKV      = "Kv-Form-Secret-99"
		encoded   = "p@ss:w/rd%-Enc0ded Secret"
		refused   = "Refused-Host-Secret"
		blackhole = "Blackhole-Host-Secret"
		lite      = "Sqlite-Userinfo-Secret"
	)
	secrets := []string{right, wrong, inQuery, inKV, encoded, refused, blackhole, lite}

	c := testdb.StartCluster(t, testdb.ClusterOptions{Password: right})
	port := c.Port
	seen := &collector{}
	logger := slog.New(slog.NewTextHandler(seen, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sys := registry.NewActorSystem(logger) // Proto.Actor's own log lines too
	defer sys.Shutdown()
	inj := faults.Install(sys) // before any registry is spawned on sys
	sub := sys.EventStream.Subscribe(func(evt any) { seen.add(fmt.Sprintf("eventstream %T", evt), evt) })
	defer sys.EventStream.Unsubscribe(sub)

	enc := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", encoded), Host: fmt.Sprintf("127.0.0.1:%d", port), Path: "/postgres", RawQuery: "sslmode=disable"}
	liteURL := "sqlite:///" + filepath.Join(t.TempDir(), "lite.db") + "?echo=true"
	// SQLite takes no credentials: the configuration error must not show them.
	_, err := registry.New(sys, registry.Config{Database: "sqlite://admin:" + lite + "@/" + filepath.Join(t.TempDir(), "x.db")})
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
	seen.add("sqlite config error", err)
	cfg := registry.Config{
		Database: c.DSN(right) + "&echo=true&connect_timeout=2",
		Extra: map[string]string{
			"wrong":     c.DSN(wrong),
			"query":     fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&password=%s", port, inQuery),
			"kv":        fmt.Sprintf("host=127.0.0.1 port=%d user=postgres password=%s dbname=postgres sslmode=disable", port, inKV),
			"encoded":   enc.String(),
			"refused":   "postgres://postgres:" + refused + "@" + testdb.ClosedPort(t) + "/x?sslmode=disable",
			"blackhole": "postgres://postgres:" + blackhole + "@" + testdb.Blackhole(t) + "/x?sslmode=disable&connect_timeout=1",
			"lite":      liteURL,
		},
		Health: actors.HealthOptions{Interval: 50 * time.Millisecond, Timeout: time.Second, BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond},
	}
	downs := make(chan *messages.DatabaseDown, 16)
	ups := make(chan *messages.DatabaseUp, 16)
	reg, err := registry.New(sys, cfg, registry.WithLogger(logger), registry.WithEventHook(func(ev messages.Event) {
		seen.add(fmt.Sprintf("hook %T", ev), ev)
		switch e := ev.(type) {
		case *messages.DatabaseDown:
			downs <- e
		case *messages.DatabaseUp:
			ups <- e
		}
		if _, ok := ev.(*messages.ActorCrashed); ok {
			panic("hook panics with " + cfg.Database) // logged, scrubbed
		}
	}))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seen.add("registry", reg, reg.String(), cfg)
	logger.Info("configured", "config", cfg)

	// A registry-wide connect: five databases fail, all roll back.
	err = reg.Connect(ctx)
	require.Error(t, err)
	seen.add("connect error", err)
	for _, e := range unwrapAll(err) {
		seen.add("connect error part", e)
	}
	for _, db := range reg.Databases() {
		st, err := db.Status(ctx)
		require.NoError(t, err)
		seen.add("database", db, db.String(), db.URL(), st)
		_, err = db.Connect(ctx)
		seen.add("database connect", err)
		if err == nil {
			continue
		}
		// Schema work on a database that cannot connect.
		seen.add("schema error", reg.CreateSchema(ctx, "tenant", registry.OnDatabases(db.Name())))
	}
	main := reg.Database()
	require.NotNil(t, main.Pool())

	// Echoed statements, failing ones and ones whose text holds a password.
	_, err = main.Pool().Exec(ctx, "SELECT 1")
	require.NoError(t, err)
	_, err = main.Pool().Exec(ctx, "SELECT $1::text", "arg value "+right)
	require.NoError(t, err)
	// The server quotes the unknown column, which is the password: the
	// echo line must not show it. (The error itself is pgx's answer to the
	// caller's own SQL on the caller's pool, returned as it is: not scanned.)
	_, err = main.Pool().Exec(ctx, `SELECT "`+right+`"`)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "42703", pgErr.Code)
	liteDB, err := reg.Extra("lite")
	require.NoError(t, err)
	_, err = liteDB.DB().ExecContext(ctx, "CREATE TABLE t (v text)")
	require.NoError(t, err)
	_, err = liteDB.DB().ExecContext(ctx, "INSERT INTO t VALUES (?)", "row "+lite)
	require.NoError(t, err)
	_, err = liteDB.DB().ExecContext(ctx, "SELECT '"+right+"' FROM nowhere")
	seen.add("sqlite query error", err)
	require.NoError(t, reg.CreateSchema(ctx, "tenant_ok"))

	// A crash whose panic value is the main URL.
	disarm := inj.Arm(faults.DatabaseReceive, func(self *actor.PID, msg any) {
		if _, ok := msg.(*messages.GetStatus); ok && self.Equal(main.PID()) {
			panic(errors.New("bug with " + cfg.Database + " and " + cfg.Extra["kv"]))
		}
	})
	_, err = main.Status(ctx)
	disarm()
	require.ErrorIs(t, err, messages.ErrInternal)
	seen.add("crash error", err)

	// An outage: health events carry the driver's errors.
	c.Stop(t)
	select {
	case ev := <-downs:
		seen.add("down", ev)
	case <-ctx.Done():
		t.Fatal("no DatabaseDown")
	}
	_, err = main.Pool().Exec(ctx, "SELECT 1")
	seen.add("outage query error", err)
	st, err := main.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, client.Degraded, st.Health)
	seen.add("degraded status", st, st.LastError)
	c.Start(t)
	select {
	case ev := <-ups:
		seen.add("up", ev)
	case <-ctx.Done():
		t.Fatal("no DatabaseUp")
	}

	// Raw replies straight from the actors.
	reply, err := sys.Root.RequestFuture(reg.PID(), &messages.ListDatabases{}, 10*time.Second).Result()
	require.NoError(t, err)
	seen.add("list", reply)

	seen.add("force", func() error { _, err := main.ForceDisconnect(ctx); return err }())
	seen.add("close", reg.Close(ctx))
	seen.add("after close", reg.Connect(ctx))

	all := seen.String()
	require.Contains(t, all, "dbactor: sql", "echo was on")
	require.Contains(t, all, "DatabaseDown")
	require.Contains(t, all, "event hook panicked")
	require.Contains(t, all, "28P01", "a wrong password was reported")
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s), strings.TrimPrefix(url.UserPassword("u", s).String(), "u:")} {
			if idx := strings.Index(all, form); idx >= 0 {
				lo, hi := max(0, idx-200), min(len(all), idx+len(form)+50)
				t.Fatalf("password %q (as %q) leaked: …%s…", s, form, all[lo:hi])
			}
		}
	}
	// Reached only when the scan above found nothing.
	fmt.Printf("SECRETS|items scanned=%d|bytes=%d|passwords=%d|leaks=0\n", seen.items, len(all), len(secrets))
}
