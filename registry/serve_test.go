package registry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/registry"
)

// lifespanGet fetches url with a client that keeps no idle connection (no
// goroutine outlives the test) and returns the status code and body.
func lifespanGet(ctx context.Context, url string) (int, string, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// dbStatusHandler answers with what the request saw of db: its status and a
// query through db.DB() (and db.Pool() on PostgreSQL).
func dbStatusHandler(db *registry.Database) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		fmt.Fprint(w, describeDB(req.Context(), db))
	}
}

// describeDB reports db's status and whether queries through db.DB() (and
// db.Pool() on PostgreSQL) work, as "connected=true ref=1 query=ok".
func describeDB(ctx context.Context, db *registry.Database) string {
	st, err := db.Status(ctx)
	if err != nil {
		return "status: " + err.Error()
	}
	sqldb := db.DB()
	if sqldb == nil {
		return fmt.Sprintf("connected=%v ref=%d DB()=nil", st.Connected, st.RefCount)
	}
	var one int
	if err := sqldb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		return fmt.Sprintf("DB() query: %d, %v", one, err)
	}
	if db.Dialect() == client.Postgres {
		var two int
		if err := db.Pool().QueryRow(ctx, "SELECT 2").Scan(&two); err != nil || two != 2 {
			return fmt.Sprintf("Pool() query: %d, %v", two, err)
		}
	}
	return fmt.Sprintf("connected=%v ref=%d query=ok", st.Connected, st.RefCount)
}

// lifespanListener opens a listener on a free port of 127.0.0.1.
func lifespanListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// unboundAddr is an address of 127.0.0.1 where nothing listens (a listener
// was bound to it and closed).
func unboundAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// acceptsConns reports whether something accepts TCP connections on addr.
func acceptsConns(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// serveUntilCancel runs registry.Serve until the returned cancel is
// called; done delivers its result.
func serveUntilCancel(t *testing.T, reg *registry.Registry, srv *http.Server, ln net.Listener, opts ...registry.ServeOption) (cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, returned := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(returned)
		ch <- registry.Serve(ctx, reg, srv, ln, opts...)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-returned:
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return cancel, ch
}

func waitReturn(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// The very first request already sees every database connected, once; a
// cancelled ctx stops the server and gives the count back.
func TestServeConnectedBeforeFirstRequest(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, newSystem(t), registry.Config{
			Database: b.url(t),
			Extra:    map[string]string{"analytics": b.url(t)},
		})
		analytics, err := reg.Extra("analytics")
		require.NoError(t, err)
		requireCount(t, reg.Database(), 0, false)

		mux := http.NewServeMux()
		mux.Handle("/main", dbStatusHandler(reg.Database()))
		mux.Handle("/analytics", dbStatusHandler(analytics))
		ln := lifespanListener(t)
		// The client connects before Serve even starts: its request waits
		// in the accept queue until the registry is connected.
		first := make(chan string, 1)
		go func() {
			_, body, err := lifespanGet(testCtx(t), "http://"+ln.Addr().String()+"/main")
			if err != nil {
				body = err.Error()
			}
			first <- body
		}()
		stop, done := serveUntilCancel(t, reg, &http.Server{Handler: mux}, ln)

		require.Equal(t, "connected=true ref=1 query=ok", <-first)
		code, body, err := lifespanGet(testCtx(t), "http://"+ln.Addr().String()+"/analytics")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "connected=true ref=1 query=ok", body)
		requireCount(t, reg.Database(), 1, true)

		stop()
		require.NoError(t, waitReturn(t, done), "a cancelled ctx is a clean stop")
		requireCount(t, reg.Database(), 0, false)
		requireCount(t, analytics, 0, false)
		require.False(t, acceptsConns(ln.Addr().String()), "the server stopped listening")
	})
}

// A request in flight when ctx ends runs to completion with its database
// still connected; the registry disconnects only after it.
func TestServeDisconnectsAfterLastRequest(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t)})
		db := reg.Database()
		entered, release := make(chan struct{}), make(chan struct{})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			close(entered)
			<-release
			fmt.Fprint(w, describeDB(req.Context(), db))
		})}
		ln := lifespanListener(t)
		addr := ln.Addr().String()
		stop, done := serveUntilCancel(t, reg, srv, ln)

		type result struct {
			code int
			body string
			err  error
		}
		got := make(chan result, 1)
		go func() {
			code, body, err := lifespanGet(testCtx(t), "http://"+addr+"/")
			got <- result{code, body, err}
		}()
		<-entered
		stop()
		// The shutdown has begun once the listener is closed…
		require.Eventually(t, func() bool { return !acceptsConns(addr) }, 10*time.Second, 5*time.Millisecond)
		// …and waits for the request: the registry is still connected.
		requireCount(t, db, 1, true)
		select {
		case err := <-done:
			t.Fatalf("Serve returned while a request was in flight: %v", err)
		default:
		}

		close(release)
		r := <-got
		require.NoError(t, r.err)
		require.Equal(t, http.StatusOK, r.code)
		require.Equal(t, "connected=true ref=1 query=ok", r.body, "the request finished with its database")
		require.NoError(t, waitReturn(t, done))
		requireCount(t, db, 0, false)
	})
}

// When the registry cannot connect, ListenAndServe never binds its
// address: not while connecting, not after.
func TestListenAndServeConnectFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", missingDirURL},
		{"postgres", func(t *testing.T) string {
			return "postgres://postgres@" + testdb.ClosedPort(t) + "/app?connect_timeout=5"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t, newSystem(t), registry.Config{Database: tc.url(t)})
			addr := unboundAddr(t)
			handled := make(chan struct{}, 1)
			srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				handled <- struct{}{}
			})}
			err := registry.ListenAndServe(testCtx(t), reg, srv)
			var ce *registry.ConnectError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, "", ce.Database)
			require.ErrorIs(t, err, registry.ErrConnectFailed)
			require.False(t, acceptsConns(addr))
			// Had it been bound and left open, binding it again would fail.
			ln, err := net.Listen("tcp", addr)
			require.NoError(t, err, "the address is free")
			require.NoError(t, ln.Close())
			require.Empty(t, handled)
			requireCount(t, reg.Database(), 0, false)
		})
	}
}

// While the registry connects, the address is not bound yet; a connect
// that then fails (here, a hook) leaves it unbound.
func TestListenAndServeNotListeningWhileConnecting(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	hookErr := errors.New("no schema migrations table")
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: "sqlite:///" + filepath.Join(t.TempDir(), "app.db"),
	}, registry.WithHooks("", actors.Hooks{OnConnect: func(context.Context) error {
		close(entered)
		<-release
		return hookErr
	}}))
	addr := unboundAddr(t)
	done := make(chan error, 1)
	go func() {
		done <- registry.ListenAndServe(testCtx(t), reg, &http.Server{Addr: addr, Handler: http.NotFoundHandler()})
	}()
	<-entered
	require.False(t, acceptsConns(addr), "not listening while the registry connects")
	close(release)
	err := waitReturn(t, done)
	var ce *registry.ConnectError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, registry.ErrHookFailed)
	require.Contains(t, err.Error(), hookErr.Error())
	require.False(t, acceptsConns(addr))
	requireCount(t, reg.Database(), 0, false)
}

// Serve closes the listener it was given when the registry cannot connect,
// and no request is ever handled.
func TestServeConnectFailsClosesListener(t *testing.T) {
	reg := newRegistry(t, newSystem(t), registry.Config{Database: missingDirURL(t)})
	ln := lifespanListener(t)
	handled := make(chan struct{}, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { handled <- struct{}{} })}
	err := registry.Serve(testCtx(t), reg, srv, ln)
	var ce *registry.ConnectError
	require.ErrorAs(t, err, &ce)
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed, "Serve closed the listener")
	require.False(t, acceptsConns(ln.Addr().String()))
	require.Empty(t, handled)
	requireCount(t, reg.Database(), 0, false)
}

// A context that has already ended fails the connect: nothing is served.
func TestServeCancelledBeforeConnect(t *testing.T) {
	reg := newRegistry(t, newSystem(t), registry.Config{Database: "sqlite:///:memory:"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ln := lifespanListener(t)
	err := registry.Serve(ctx, reg, &http.Server{Handler: http.NotFoundHandler()}, ln)
	require.ErrorIs(t, err, registry.ErrCanceled)
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
	// The connect request may still reach the database; the facade then
	// gives the count back in the background.
	require.Eventually(t, func() bool {
		st, err := reg.Database().Status(testCtx(t))
		return err == nil && st.RefCount == 0 && !st.Connected
	}, 10*time.Second, 5*time.Millisecond)
}

// ListenAndServe binds srv.Addr once connected and serves on it.
func TestListenAndServe(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t)})
		bound := make(chan string, 1)
		srv := &http.Server{
			Addr:    "127.0.0.1:0",
			Handler: dbStatusHandler(reg.Database()),
			// Called by http.Server.Serve with the listener it accepts on.
			BaseContext: func(ln net.Listener) context.Context {
				bound <- ln.Addr().String()
				return context.Background()
			},
		}
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		done := make(chan error, 1)
		go func() { done <- registry.ListenAndServe(ctx, reg, srv) }()
		addr := <-bound
		_, body, err := lifespanGet(testCtx(t), "http://"+addr+"/")
		require.NoError(t, err)
		require.Equal(t, "connected=true ref=1 query=ok", body)
		stop()
		require.NoError(t, waitReturn(t, done))
		requireCount(t, reg.Database(), 0, false)
		require.False(t, acceptsConns(addr))
	})
}

// ListenAndServe on an address it cannot bind gives the count back.
func TestListenAndServeBindFails(t *testing.T) {
	reg := newRegistry(t, newSystem(t), registry.Config{Database: "sqlite:///:memory:"})
	taken := lifespanListener(t)
	err := registry.ListenAndServe(testCtx(t), reg, &http.Server{Addr: taken.Addr().String()})
	require.Error(t, err)
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	requireCount(t, reg.Database(), 0, false)
}

// A server that fails by itself (its listener broke) is shut down, the
// registry disconnected, and the failure returned.
func TestServeServerFails(t *testing.T) {
	reg := newRegistry(t, newSystem(t), registry.Config{Database: "sqlite:///" + filepath.Join(t.TempDir(), "app.db")})
	ln := lifespanListener(t)
	served := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	srv.BaseContext = func(net.Listener) context.Context { close(served); return context.Background() }
	_, done := serveUntilCancel(t, reg, srv, ln)
	<-served
	requireCount(t, reg.Database(), 1, true)
	require.NoError(t, ln.Close()) // Accept fails: http.Server.Serve returns
	err := waitReturn(t, done)
	require.ErrorIs(t, err, net.ErrClosed)
	require.NotErrorIs(t, err, http.ErrServerClosed)
	requireCount(t, reg.Database(), 0, false)
}

// A request that outlives ShutdownTimeout has its connection closed; the
// registry is disconnected anyway and the timeout is reported.
func TestServeShutdownTimeout(t *testing.T) {
	reg := newRegistry(t, newSystem(t), registry.Config{Database: "sqlite:///" + filepath.Join(t.TempDir(), "app.db")})
	entered, release, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		defer close(finished)
		close(entered)
		<-release
	})}
	ln := lifespanListener(t)
	stop, done := serveUntilCancel(t, reg, srv, ln, registry.ShutdownTimeout(50*time.Millisecond))
	got := make(chan error, 1)
	go func() {
		_, _, err := lifespanGet(testCtx(t), "http://"+ln.Addr().String()+"/")
		got <- err
	}()
	<-entered
	stop()
	err := waitReturn(t, done)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "server shutdown")
	requireCount(t, reg.Database(), 0, false)
	require.Error(t, <-got, "the connection was closed under the request")
	close(release)
	<-finished
}

// A request's own context is not the one given to Serve: cancelling that
// does not cancel the requests it lets finish.
func TestServeRequestContextSurvivesStop(t *testing.T) {
	reg := newRegistry(t, newSystem(t), registry.Config{Database: "sqlite:///" + filepath.Join(t.TempDir(), "app.db")})
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		close(entered)
		<-release
		fmt.Fprint(w, req.Context().Err() == nil)
	})}
	ln := lifespanListener(t)
	stop, done := serveUntilCancel(t, reg, srv, ln)
	got := make(chan string, 1)
	go func() {
		_, body, err := lifespanGet(testCtx(t), "http://"+ln.Addr().String()+"/")
		if err != nil {
			body = err.Error()
		}
		got <- body
	}()
	<-entered
	stop()
	require.Eventually(t, func() bool { return !acceptsConns(ln.Addr().String()) }, 10*time.Second, 5*time.Millisecond)
	close(release)
	require.Equal(t, "true", <-got)
	require.NoError(t, waitReturn(t, done))
}

// ExampleServe runs an HTTP server for as long as a context lives, with the
// registry connected from before the first request until after the last.
func ExampleServe() {
	reg, err := registry.New(nil, registry.Config{Database: "sqlite:///:memory:"})
	if err != nil {
		panic(err)
	}
	defer reg.Close(context.Background())

	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var answer int
		if err := reg.Database().DB().QueryRowContext(req.Context(), "SELECT 6 * 7").Scan(&answer); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "answer:", answer)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background()) // in main: signal.NotifyContext
	done := make(chan error, 1)
	go func() { done <- registry.Serve(ctx, reg, srv, ln, registry.ShutdownTimeout(10*time.Second)) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	fmt.Print(string(body))

	stop()
	fmt.Println("Serve returned:", <-done)
	st, _ := reg.Database().Status(context.Background())
	fmt.Println("connected after Serve:", st.Connected)
	// Output:
	// answer: 42
	// Serve returned: <nil>
	// connected after Serve: false
}
