package tests

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

func withDatabase(t *testing.T, dsn, database string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.Path = "/" + database
	return u.String()
}

// rollbackCase connects a registry whose main database and first extra are
// healthy and whose "bad" extra fails as the case prescribes, then checks
// that the error names exactly the bad database and that nothing stays open.
func rollbackCase(t *testing.T, bad string, timeout time.Duration, check func(t *testing.T, err error)) {
	t.Helper()
	good := testdb.NewPostgresDatabase(t)
	var logs bytes.Buffer
	sys := registry.NewActorSystem(nil)
	defer sys.Shutdown()
	reg, err := registry.New(sys, registry.Config{
		Database: good,
		Extra:    map[string]string{"a_good": good, "bad": bad},
	}, registry.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.NoError(t, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, reg.Close(ctx))
	}()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err = reg.Connect(ctx)
	elapsed := time.Since(start)
	require.Error(t, err)
	require.Less(t, elapsed, timeout+time.Second, "connect is bounded by its deadline")

	var ce *registry.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "bad", ce.Database, "err: %v", err)
	require.Len(t, unwrapAll(err), 1, "only the bad database failed: %v", err)
	check(t, err)

	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	for _, db := range reg.Databases() {
		st, err := db.Status(sctx)
		require.NoError(t, err)
		require.Equal(t, 0, st.RefCount, "%s rolled back", db)
		require.False(t, st.Connected)
		require.Nil(t, db.DB())
	}
	if pw := passwordOf(bad); pw != "" {
		require.NotContains(t, err.Error(), pw)
		require.NotContains(t, logs.String(), pw)
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func passwordOf(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}

func TestRollbackRefusedExtra(t *testing.T) {
	addr := testdb.ClosedPort(t)
	rollbackCase(t, "postgres://postgres@"+addr+"/x?sslmode=disable", 10*time.Second, func(t *testing.T, err error) {
		require.ErrorIs(t, err, registry.ErrConnectFailed)
		require.Contains(t, err.Error(), "refused")
	})
}

func TestRollbackWrongPassword(t *testing.T) {
	const right, wrong = "R1ght-Passw0rd", "Wr0ng-Passw0rd"
	cluster := testdb.StartCluster(t, testdb.ClusterOptions{Password: right})
	rollbackCase(t, cluster.DSN(wrong), 10*time.Second, func(t *testing.T, err error) {
		require.ErrorIs(t, err, registry.ErrConnectFailed)
		var me *messages.Error
		require.ErrorAs(t, err, &me)
		require.Equal(t, "28P01", me.GetSqlstate(), "invalid_password")
		require.NotContains(t, err.Error(), right)
	})

	// And the right password connects.
	sys := registry.NewActorSystem(nil)
	defer sys.Shutdown()
	reg, err := registry.New(sys, registry.Config{Database: cluster.DSN(right)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, reg.Connect(ctx))
	require.NoError(t, reg.Close(ctx))
}

func TestRollbackMissingDatabase(t *testing.T) {
	missing := withDatabase(t, testdb.PostgresDSN(t), "dbactor_no_such_database")
	rollbackCase(t, missing, 10*time.Second, func(t *testing.T, err error) {
		require.ErrorIs(t, err, registry.ErrConnectFailed)
		var me *messages.Error
		require.ErrorAs(t, err, &me)
		require.Equal(t, "3D000", me.GetSqlstate(), "invalid_catalog_name")
	})
}

// A host that accepts and never answers: the caller's deadline bounds the
// connect, the error is a timeout, and the healthy databases are rolled back.
func TestRollbackSilentHost(t *testing.T) {
	addr := testdb.Blackhole(t)
	rollbackCase(t, "postgres://postgres:silent-pw@"+addr+"/x?sslmode=disable", 1500*time.Millisecond, func(t *testing.T, err error) {
		require.ErrorIs(t, err, registry.ErrTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// It names the database, the server and the bound that fired.
		require.Contains(t, err.Error(), `connect database "bad": no answer from `+addr+" within the request's deadline (")
	})
}

// The URL's connect_timeout bounds the connect even when the caller has no
// deadline.
func TestConnectTimeoutFromURL(t *testing.T) {
	addr := testdb.Blackhole(t)
	sys := registry.NewActorSystem(nil)
	defer sys.Shutdown()
	reg, err := registry.New(sys, registry.Config{Database: "postgres://postgres@" + addr + "/x?sslmode=disable&connect_timeout=1"})
	require.NoError(t, err)
	start := time.Now()
	_, err = reg.Database().Connect(context.Background())
	require.ErrorIs(t, err, registry.ErrTimeout)
	require.Contains(t, err.Error(), "no answer from "+addr+" within connect_timeout 1s")
	require.Less(t, time.Since(start), 5*time.Second)
	require.NoError(t, reg.Close(context.Background()))
}

// Deviation 1: every failure comes back, not only the first.
func TestEveryFailureReported(t *testing.T) {
	good := testdb.NewPostgresDatabase(t)
	sys := registry.NewActorSystem(nil)
	defer sys.Shutdown()
	reg, err := registry.New(sys, registry.Config{
		Database: "postgres://postgres@" + testdb.ClosedPort(t) + "/x?sslmode=disable",
		Extra: map[string]string{
			"b": good,
			"c": "postgres://postgres@" + testdb.ClosedPort(t) + "/x?sslmode=disable",
			"d": withDatabase(t, good, "dbactor_missing_d"),
		},
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = reg.Connect(ctx)
	var failed []string
	for _, e := range unwrapAll(err) {
		var ce *registry.ConnectError
		require.True(t, errors.As(e, &ce), "%v", e)
		failed = append(failed, ce.Database)
	}
	require.Equal(t, []string{"", "c", "d"}, failed)
	b, _ := reg.Extra("b")
	st, err := b.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, st.RefCount)
	require.NoError(t, reg.Close(ctx))
}
