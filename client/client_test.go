package client_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// local is a registry on SQLite and a client attached to its actor in the
// same actor system (as a node's client would be, minus the network).
func local(t *testing.T) (*registry.Registry, *client.Client) {
	t.Helper()
	sys := testdb.ActorSystem(t)
	reg, err := registry.New(sys, registry.Config{Database: "sqlite:///" + filepath.Join(t.TempDir(), "main.db")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, reg.Close(context.Background())) })
	cl, err := client.Attach(sys, reg.PID(), client.WithCallTimeout(10*time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cl.Close(context.Background())) })
	return reg, cl
}

// The client's counts are its own: the registry gives back what it still
// holds when the client closes.
func TestClientCountsGoBackOnClose(t *testing.T) {
	t.Parallel()
	reg, cl := local(t)
	ctx := testCtx(t)
	require.NoError(t, cl.Connect(ctx))
	opened, err := cl.Database().Connect(ctx)
	require.NoError(t, err)
	require.False(t, opened, "the registry-wide connect opened the pool")
	st, err := cl.Database().Status(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, st.RefCount)
	require.Equal(t, client.SQLite, st.Dialect)
	require.Equal(t, client.Healthy, st.Health)

	require.NoError(t, cl.Close(ctx))
	require.Eventually(t, func() bool {
		st, err := reg.Database().Status(ctx)
		return err == nil && st.RefCount == 0 && !st.Connected
	}, 10*time.Second, 10*time.Millisecond, "the closed client's counts were given back")
	require.ErrorIs(t, cl.Connect(ctx), client.ErrClosed)
}

func TestClientQueryAndErrors(t *testing.T) {
	t.Parallel()
	_, cl := local(t)
	ctx := testCtx(t)
	db := cl.Database()
	_, err := db.Query(ctx, "SELECT 1")
	require.ErrorIs(t, err, client.ErrNotConnected)

	require.NoError(t, cl.Connect(ctx))
	n, err := db.Exec(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = db.Exec(ctx, "INSERT INTO t (name) VALUES (?), (?)", "a", nil)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	res, err := db.Query(ctx, "SELECT id, name FROM t ORDER BY id")
	require.NoError(t, err)
	require.Equal(t, []client.Column{{Name: "id", Type: "INTEGER"}, {Name: "name", Type: "TEXT"}}, res.Columns)
	require.Equal(t, [][]any{{int64(1), "a"}, {int64(2), nil}}, res.Rows)

	_, err = db.WithLimits(1, 0).Query(ctx, "SELECT id FROM t")
	require.ErrorIs(t, err, client.ErrLimitExceeded)
	_, err = db.Query(ctx, "SELECT nope FROM t")
	require.ErrorIs(t, err, client.ErrQuery)
	_, err = db.Exec(ctx, "SELECT ?", struct{}{})
	require.Error(t, err, "an argument that cannot travel is refused before sending")

	// A request larger than a node accepts is refused here.
	_, err = db.Exec(ctx, "SELECT ?", strings.Repeat("x", 4<<20))
	require.ErrorIs(t, err, client.ErrLimitExceeded)

	_, err = cl.Extra("nope").Connect(ctx)
	var ce *client.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "nope", ce.Database)
	require.ErrorIs(t, err, client.ErrUnknownDatabase)

	list, err := cl.Databases(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "", list[0].Database)
}

func TestClientSchemasAndCallbacks(t *testing.T) {
	t.Parallel()
	reg, cl := local(t)
	ctx := testCtx(t)
	require.ErrorIs(t, cl.CreateSchema(ctx, ""), messages.ErrInvalidName)
	require.NoError(t, cl.CreateSchema(ctx, "tenant", client.IfNotExists()))
	err := cl.CreateSchema(ctx, "tenant")
	var se *client.SchemaError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "create schema", se.Op)
	require.NoError(t, cl.DropSchema(ctx, "tenant", client.Cascade()))

	events := make(chan *messages.ModelRegistered, 1)
	_, err = cl.RegisterCallbackFunc(ctx, "User", func(ev *messages.ModelRegistered) { events <- ev }, client.OneTime())
	require.NoError(t, err)
	type User struct {
		ID int64 `db:"id,pk"`
	}
	_, err = reg.RegisterModel(ctx, User{})
	require.NoError(t, err)
	require.Equal(t, "User", (<-events).GetName())

	require.ErrorIs(t, cl.RegisterCallback(ctx, "", nil), client.ErrInvalidArgument)
}

func TestAttachRefusesBadArguments(t *testing.T) {
	t.Parallel()
	sys := testdb.ActorSystem(t)
	_, err := client.Attach(sys, nil)
	require.ErrorIs(t, err, client.ErrInvalidArgument)
	_, err = client.AttachFunc(nil, func(context.Context) (*actor.PID, error) { return nil, nil })
	require.ErrorIs(t, err, client.ErrInvalidArgument)
	_, err = client.Attach(sys, actor.NewPID(sys.Address(), "registry"), client.WithCallTimeout(-1))
	require.ErrorIs(t, err, client.ErrInvalidArgument)

	// A resolver that fails fails the call, with ErrUnavailable.
	cl, err := client.AttachFunc(sys, func(context.Context) (*actor.PID, error) { return nil, errors.New("no such kind") })
	require.NoError(t, err)
	defer func() { require.NoError(t, cl.Close(context.Background())) }()
	require.ErrorIs(t, cl.Connect(testCtx(t)), client.ErrUnavailable)
}
