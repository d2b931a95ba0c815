package registry_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// auditColumn is what the hooks of these tests add.
func auditColumn() *messages.ColumnDef {
	return &messages.ColumnDef{Name: "audit", Type: messages.ColumnType_COLUMN_TYPE_TEXT, Nullable: true}
}

func addAudit(m *models.Model) error { return m.AddColumn(auditColumn()) }

func hasColumn(m *models.Model, name string) bool {
	_, ok := m.Column(name)
	return ok
}

// TestCallbackCannotModifyBeforeReturn is issue 17's gap as it stands for
// callback actors, which stay notifications: a column a callback adds is
// not there when RegisterModel returns (it arrives later). A model hook's
// column is (TestModelHookModifiesModel).
func TestCallbackCannotModifyBeforeReturn(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
	release := make(chan struct{})
	added := make(chan error, 1)
	_, err := reg.RegisterCallbackFunc(ctx, "User", func(ev *messages.ModelRegistered) {
		<-release
		m, err := reg.Model(ev.GetName())
		if err == nil {
			err = addAudit(m)
		}
		added <- err
	})
	require.NoError(t, err)
	m, err := reg.RegisterModel(ctx, User{}, models.Name("User"))
	require.NoError(t, err)
	require.False(t, hasColumn(m, "audit"), "a callback actor runs after the registration")
	close(release)
	require.NoError(t, <-added)
}

// TestModelHookModifiesModel: a hook runs inside the registration, so the
// column it adds is on the model RegisterModel returns, in its DDL, and in
// the table CreateAll makes.
func TestModelHookModifiesModel(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
	require.NoError(t, reg.RegisterModelHook(ctx, "User", addAudit))
	require.Equal(t, 1, reg.Callbacks(), "a one-time hook waits for its model")
	m, err := reg.RegisterModel(ctx, User{}, models.Name("User"))
	require.NoError(t, err)
	require.True(t, hasColumn(m, "audit"), "the hook's column is there when RegisterModel returns")
	require.Zero(t, reg.Callbacks(), "one-time: consumed")

	require.NoError(t, reg.CreateAll(ctx))
	_, err = reg.Database().Connect(ctx)
	require.NoError(t, err)
	_, err = reg.Database().DB().ExecContext(ctx, `INSERT INTO users (name, audit) VALUES ('a', 'hooked')`)
	require.NoError(t, err)

	// Registered again (Replace): a one-time hook is gone, a persistent
	// general one runs for every later model.
	require.NoError(t, reg.RegisterModelHook(ctx, "", func(m *models.Model) error {
		if m.Name() == "Later" {
			return addAudit(m)
		}
		return nil
	}))
	require.Equal(t, 1, reg.Callbacks(), "a hook for every model is persistent")
	m2, err := reg.RegisterModel(ctx, User{}, models.Name("User"), models.ReplaceExisting())
	require.NoError(t, err)
	require.False(t, hasColumn(m2, "audit"))
	m3, err := reg.RegisterModel(ctx, User{}, models.Name("Later"))
	require.NoError(t, err)
	require.True(t, hasColumn(m3, "audit"))
}

// TestModelHookForRegisteredModel: Edgy's K2 — a hook for a model already
// registered runs at once, before RegisterModelHook returns, and a
// one-time one is not kept; a persistent one is kept for later ones.
func TestModelHookForRegisteredModel(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
	m, err := reg.RegisterModel(ctx, User{}, models.Name("User"))
	require.NoError(t, err)
	require.NoError(t, reg.RegisterModelHook(ctx, "User", addAudit))
	require.True(t, hasColumn(m, "audit"), "run at once on the registered model")
	require.Zero(t, reg.Callbacks(), "a one-time hook that ran at once is not kept")

	var seen []string
	require.NoError(t, reg.RegisterModelHook(ctx, "", func(m *models.Model) error {
		seen = append(seen, m.Name())
		return nil
	}))
	require.Equal(t, []string{"User"}, seen)
	model(t, reg, "Other")
	require.Equal(t, []string{"User", "Other"}, seen)
	require.Equal(t, 1, reg.Callbacks())

	// Failing at once for a registered model: no model changes, no hook
	// is kept.
	before := len(m.Columns())
	err = reg.RegisterModelHook(ctx, "", func(m *models.Model) error {
		if err := m.AddColumn(&messages.ColumnDef{Name: "extra", Type: messages.ColumnType_COLUMN_TYPE_TEXT, Nullable: true}); err != nil {
			return err
		}
		if m.Name() == "Other" {
			return errors.New("not this one")
		}
		return nil
	}, client.Persistent())
	require.ErrorIs(t, err, registry.ErrHookFailed)
	require.ErrorContains(t, err, "not this one")
	require.Len(t, m.Columns(), before, "User is unchanged although the hook ran for it first")
	require.Equal(t, 1, reg.Callbacks(), "the failed hook is not kept")
}

// TestModelHookFailureLeavesBookUnchanged: a hook's error or panic fails the
// registration with ErrHookFailed, and the registry is as it was: no
// model (a replaced one still there), consumed one-time callbacks and hooks
// still waiting, no event to callback actors, the actor alive.
func TestModelHookFailureLeavesBookUnchanged(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	rec := newRecorder()
	require.NoError(t, reg.RegisterCallback(ctx, "User", sys.Root.Spawn(rec.props()))) // one-time
	require.NoError(t, reg.RegisterModelHook(ctx, "User", addAudit))                   // one-time, runs first
	fail := errors.New("refused by policy")
	require.NoError(t, reg.RegisterModelHook(ctx, "User", func(*models.Model) error { return fail }, client.Persistent()))
	require.Equal(t, 3, reg.Callbacks())

	_, err := reg.RegisterModel(ctx, User{}, models.Name("User"))
	require.ErrorIs(t, err, registry.ErrHookFailed)
	require.ErrorContains(t, err, "refused by policy")
	_, err = reg.Model("User")
	require.ErrorIs(t, err, registry.ErrUnknownModel)
	require.Empty(t, reg.Models())
	require.Equal(t, 3, reg.Callbacks(), "the one-time callback and hook wait again")

	// A panicking hook: the same, and the registry actor keeps its book.
	old, err := reg.RegisterModel(ctx, User{}, models.Name("Kept"))
	require.NoError(t, err)
	var buggy atomic.Bool // the hook runs at once for Kept: not buggy yet
	require.NoError(t, reg.RegisterModelHook(ctx, "Kept", func(*models.Model) error {
		if buggy.Load() {
			panic("hook bug")
		}
		return nil
	}, client.Persistent()))
	buggy.Store(true)
	_, err = reg.RegisterModel(ctx, User{}, models.Name("Kept"), models.ReplaceExisting())
	require.ErrorIs(t, err, registry.ErrHookFailed)
	require.ErrorContains(t, err, "hook bug")
	got, err := reg.Model("Kept")
	require.NoError(t, err)
	require.Same(t, old, got, "the replaced model is back")
	require.Equal(t, []string{"Kept"}, modelNames(reg.Models()))

	// Nothing was delivered: the callback actor fires only for the
	// registration that succeeds, which no hook refuses any more.
	_, err = reg.RegisterModel(ctx, User{}, models.Name("Other"))
	require.NoError(t, err)
	require.Empty(t, rec.names())
}

func modelNames(ms []*models.Model) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Name())
	}
	return out
}

// TestModelHookCallsRegistry: a hook may read the registry; a blocking
// call on it (which would wait for the registry actor running the hook)
// fails at once instead of deadlocking.
func TestModelHookCallsRegistry(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
	var inner, closeErr, connErr error
	var sawSelf bool
	require.NoError(t, reg.RegisterModelHook(ctx, "User", func(m *models.Model) error {
		got, err := reg.Model("User")
		sawSelf = err == nil && got == m
		_ = reg.Models()
		_ = reg.TableNames()
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, inner = reg.RegisterModel(c, User{}, models.Name("Inner"))
		_, connErr = reg.Database().Connect(c)
		closeErr = reg.Close(c)
		return nil
	}))
	start := time.Now()
	_, err := reg.RegisterModel(ctx, User{}, models.Name("User"))
	require.NoError(t, err)
	require.Less(t, time.Since(start), 10*time.Second)
	require.True(t, sawSelf, "the hook reads the registry, which has the model")
	for _, err := range []error{inner, connErr, closeErr} {
		require.ErrorIs(t, err, messages.ErrInvalidArgument)
		require.ErrorContains(t, err, "model hook")
	}
	// Outside the hook the same calls work.
	_, err = reg.RegisterModel(ctx, User{}, models.Name("Inner"))
	require.NoError(t, err)
}

// TestModelHookForRegistrationByMessage: a definition registered by message
// (what an actor on another node sends) passes through the registry's
// hooks too, and callback actors then see the hooked model.
func TestModelHookForRegistrationByMessage(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	require.NoError(t, reg.RegisterModelHook(ctx, "", addAudit))
	var mu sync.Mutex
	var inCallback bool
	done := make(chan struct{})
	_, err := reg.RegisterCallbackFunc(ctx, "Remote", func(ev *messages.ModelRegistered) {
		m, err := reg.Model(ev.GetName())
		mu.Lock()
		inCallback = err == nil && hasColumn(m, "audit")
		mu.Unlock()
		close(done)
	})
	require.NoError(t, err)
	def, err := models.FromStruct(User{}, models.Name("Remote"))
	require.NoError(t, err)
	res, err := sys.Root.RequestFuture(reg.PID(), &messages.RegisterModel{Model: def}, 10*time.Second).Result()
	require.NoError(t, err)
	mr, ok := res.(*messages.ModelResult)
	require.True(t, ok, "%T", res)
	require.Nil(t, mr.GetError())
	found := false
	for _, c := range mr.GetModel().GetColumns() {
		found = found || c.GetName() == "audit"
	}
	require.True(t, found, "the reply's definition has the hook's column")
	<-done
	mu.Lock()
	defer mu.Unlock()
	require.True(t, inCallback, "callback actors are told after the hooks ran")
}

// TestModelHookInvalidArguments: a nil func, an invalid model name and an
// unknown mode are refused.
func TestModelHookInvalidArguments(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
	require.ErrorIs(t, reg.RegisterModelHook(ctx, "User", nil), messages.ErrInvalidArgument)
	require.ErrorIs(t, reg.RegisterModelHook(ctx, "bad\x00name", addAudit), registry.ErrInvalidName)
	require.Zero(t, reg.Callbacks())
}
