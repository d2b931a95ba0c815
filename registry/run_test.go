package registry_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/registry"
)

// requireAllCounts checks every database of reg.
func requireAllCounts(t *testing.T, reg *registry.Registry, count int, connected bool) {
	t.Helper()
	for _, db := range reg.Databases() {
		requireCount(t, db, count, connected)
	}
}

// Spec §1.16 E2: Runs nest; the inner one sees every count at 2 and leaves
// it at 1.
func TestRegistryRunNesting(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, newSystem(t), registry.Config{
			Database: b.url(t),
			Extra:    map[string]string{"analytics": b.url(t)},
		})
		ctx := testCtx(t)
		requireAllCounts(t, reg, 0, false)
		var steps []string
		err := registry.Run(ctx, reg, func(ctx context.Context) error {
			requireAllCounts(t, reg, 1, true)
			ping(t, reg.Database())
			steps = append(steps, "outer")
			err := registry.Run(ctx, reg, func(ctx context.Context) error {
				requireAllCounts(t, reg, 2, true)
				steps = append(steps, "inner")
				return nil
			})
			require.NoError(t, err)
			requireAllCounts(t, reg, 1, true)
			ping(t, reg.Database())
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, []string{"outer", "inner"}, steps)
		requireAllCounts(t, reg, 0, false)
	})
}

// fn's error comes back unchanged, after the disconnect.
func TestRegistryRunFnError(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t)})
		errBoom := errors.New("boom")
		err := registry.Run(testCtx(t), reg, func(context.Context) error {
			requireAllCounts(t, reg, 1, true)
			return errBoom
		})
		require.Same(t, errBoom, err, "fn's own error, not wrapped")
		requireAllCounts(t, reg, 0, false)
	})
}

// A panic in fn propagates, unchanged, after the disconnect.
func TestRegistryRunPanic(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t)})
		ctx := testCtx(t)
		require.PanicsWithValue(t, "boom", func() {
			_ = registry.Run(ctx, reg, func(ctx context.Context) error {
				return registry.Run(ctx, reg, func(context.Context) error {
					requireAllCounts(t, reg, 2, true)
					panic("boom")
				})
			})
		})
		requireAllCounts(t, reg, 0, false)
	})
}

// runtime.Goexit in fn (t.FailNow, say) still disconnects.
func TestRegistryRunGoexit(t *testing.T) {
	reg := newRegistry(t, newSystem(t), registry.Config{Database: "sqlite:///:memory:"})
	ctx := testCtx(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = registry.Run(ctx, reg, func(context.Context) error {
			runtime.Goexit()
			return nil
		})
	}()
	<-done
	requireAllCounts(t, reg, 0, false)
}

// A failed connect (all or nothing) returns its error without calling fn.
func TestRegistryRunConnectFails(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, newSystem(t), registry.Config{
			Database: b.url(t),
			Extra:    map[string]string{"broken": missingDirURL(t)},
		})
		called := false
		err := registry.Run(testCtx(t), reg, func(context.Context) error {
			called = true
			return nil
		})
		require.False(t, called, "fn must not run")
		var ce *registry.ConnectError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, "broken", ce.Database)
		require.ErrorIs(t, err, registry.ErrConnectFailed)
		requireAllCounts(t, reg, 0, false)
	})
}

// A context that ends while fn runs does not keep the disconnect from
// happening.
func TestRegistryRunContextEndsInside(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t)})
		ctx, cancel := context.WithCancel(testCtx(t))
		err := registry.Run(ctx, reg, func(ctx context.Context) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		})
		require.ErrorIs(t, err, context.Canceled)
		requireAllCounts(t, reg, 0, false)
	})
}

// A failing disconnect is joined to fn's error.
func TestRegistryRunDisconnectFails(t *testing.T) {
	hookErr := errors.New("flush failed")
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: "sqlite:///" + filepath.Join(t.TempDir(), "app.db"),
	}, registry.WithHooks("", actors.Hooks{OnDisconnect: func(context.Context) error { return hookErr }}))
	errFn := errors.New("fn failed")
	err := registry.Run(testCtx(t), reg, func(context.Context) error { return errFn })
	require.ErrorIs(t, err, errFn)
	require.ErrorIs(t, err, registry.ErrHookFailed)
	var de *registry.DisconnectError
	require.ErrorAs(t, err, &de)
	require.Contains(t, err.Error(), hookErr.Error())
	requireAllCounts(t, reg, 0, false)

	err = registry.Run(testCtx(t), reg, func(context.Context) error { return nil })
	require.ErrorAs(t, err, &de, "the disconnect's error alone")
}

// Runs from many goroutines at once each hold one count: with all of them
// inside, the count is their number; when all have returned, 0.
func TestRegistryRunConcurrent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, newSystem(t), registry.Config{
			Database: b.url(t),
			Extra:    map[string]string{"analytics": b.url(t)},
		})
		ctx := testCtx(t)
		const n = 32
		var inside sync.WaitGroup
		inside.Add(n)
		release := make(chan struct{})
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs <- registry.Run(ctx, reg, func(ctx context.Context) error {
					inside.Done()
					<-release
					var got int
					if err := reg.Database().DB().QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&got); err != nil {
						return err
					}
					if got != i {
						return fmt.Errorf("got %d, want %d", got, i)
					}
					return nil
				})
			})
		}
		inside.Wait()
		requireAllCounts(t, reg, n, true)
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		requireAllCounts(t, reg, 0, false)
	})
}

// Run is `async with registry:` — nested, each level holding one count.
func ExampleRun() {
	ctx := context.Background()
	reg, err := registry.New(nil, registry.Config{Database: "sqlite:///:memory:"})
	if err != nil {
		panic(err)
	}
	defer reg.Close(ctx)

	err = registry.Run(ctx, reg, func(ctx context.Context) error {
		st, _ := reg.Database().Status(ctx)
		fmt.Println("outer: ref count", st.RefCount)
		err := registry.Run(ctx, reg, func(ctx context.Context) error {
			st, _ := reg.Database().Status(ctx)
			fmt.Println("inner: ref count", st.RefCount)
			return errors.New("inner failed")
		})
		fmt.Println("inner returned:", err)
		st, _ = reg.Database().Status(ctx)
		fmt.Println("outer again: ref count", st.RefCount, "connected", st.Connected)
		var answer int
		return reg.Database().DB().QueryRowContext(ctx, "SELECT 6 * 7").Scan(&answer)
	})
	st, _ := reg.Database().Status(ctx)
	fmt.Println("after Run:", err, "- connected", st.Connected)
	// Output:
	// outer: ref count 1
	// inner: ref count 2
	// inner returned: inner failed
	// outer again: ref count 1 connected true
	// after Run: <nil> - connected false
}
