// Command httpserver serves HTTP with the registry connected for the
// server's whole life, like an ASGI app under Edgy's registry.asgi lifespan:
// the registry connects before the server listens — waiting, with backoff,
// for a PostgreSQL server that is not up yet (WithConnectRetry); an SQLite
// file that cannot be opened fails at once — requests query through the
// pools the database actors own, and on SIGINT or SIGTERM the server stops
// listening, lets the requests in flight finish with their databases, and
// only then disconnects.
//
// It answers the probes an orchestrator sends (registry.HealthHandler,
// mounted by WithHealthHandler): /livez, /readyz, /status (JSON) and
// /status.html. A failed request gets its status code before any body is
// written — 503 when the database could not be reached, 504 when it did
// not answer in time, 500 otherwise — and a short text, never the driver's
// (which can name users, databases and hosts); the error itself goes to the
// log (slog, JSON on stderr).
//
// It runs on the embedded SQLite, in a temporary directory, unless a
// PostgreSQL URL is given with -db or DBACTOR_TEST_DATABASE:
//
//	go run ./examples/httpserver                        # then: curl http://127.0.0.1:8080/
//	go run ./examples/httpserver -addr 127.0.0.1:9000 -db postgres://postgres@127.0.0.1:5432/test
//	curl -i http://127.0.0.1:8080/readyz
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/registry"
)

// Visit is one request served: the model behind the visits table.
type Visit struct {
	ID   int64  `db:"id,pk"`
	Path string `db:"path"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	dbURL := flag.String("db", os.Getenv("DBACTOR_TEST_DATABASE"),
		"database URL (default: $DBACTOR_TEST_DATABASE, else SQLite in a temporary directory)")
	flag.Parse()

	// The context ends on the first SIGINT or SIGTERM: that starts the
	// graceful shutdown. A second signal kills the process as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *addr, *dbURL, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpserver:", err)
		os.Exit(1)
	}
}

// run serves on addr until ctx ends. It prints "listening on http://…"
// (the address actually bound) to out once the registry is connected and
// the server accepts requests, and returns nil after a clean shutdown.
func run(ctx context.Context, addr, dbURL string, out io.Writer) (err error) {
	if dbURL == "" {
		dir, err := os.MkdirTemp("", "dbactor-httpserver-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbURL = "sqlite:///" + filepath.Join(dir, "app.db")
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	reg, err := registry.New(nil, registry.Config{Database: dbURL},
		registry.WithLogger(logger), registry.WithConnectRetry())
	if err != nil {
		return err
	}
	defer func() {
		// ctx has ended by now: Close gets a budget of its own.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err = errors.Join(err, reg.Close(cctx))
	}()

	visits, err := reg.RegisterModel(ctx, Visit{})
	if err != nil {
		return err
	}
	// Connect waits for the database (until ctx ends: Ctrl-C gives up);
	// ListenAndServe below holds a count of its own for the server's life.
	if err := reg.Connect(ctx); err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err = errors.Join(err, reg.Disconnect(dctx))
	}()
	if err := reg.CreateAll(ctx); err != nil {
		return err
	}

	db := reg.Database()
	table, err := visits.QualifiedTable("")
	if err != nil {
		return err
	}
	insert := "INSERT INTO " + table + " (path) VALUES (?)"
	if db.Dialect() == client.Postgres {
		insert = "INSERT INTO " + table + " (path) VALUES ($1)"
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, req *http.Request) {
		// No nil check needed: handlers only run while the registry is
		// connected. req.Context() is cancelled if the client goes away,
		// not when the server begins to shut down; the timeout bounds the
		// database work when the server does not answer.
		ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
		defer cancel()
		sqldb := db.DB()
		var n int
		var version string
		err := func() error {
			if _, err := sqldb.ExecContext(ctx, insert, req.URL.Path); err != nil {
				return err
			}
			if err := sqldb.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				return err
			}
			// On PostgreSQL the pgx pool is there too, for pgx's own API.
			if pool := db.Pool(); pool != nil {
				return pool.QueryRow(ctx, "SHOW server_version").Scan(&version)
			}
			return nil
		}()
		if err != nil {
			fail(w, req, logger, err)
			return
		}
		// Everything is known: only now is a body written.
		fmt.Fprintf(w, "visit %d, served from %s\n", n, db.Dialect())
		if version != "" {
			fmt.Fprintf(w, "PostgreSQL %s, %d pooled connections\n", version, db.Pool().Stat().TotalConns())
		}
	})

	srv := &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// http.Server.Serve calls BaseContext with the listener it is about
		// to accept on: the registry is connected by then. Return a context
		// that does not end with ctx, or the requests in flight would be
		// cancelled instead of finishing.
		BaseContext: func(ln net.Listener) context.Context {
			fmt.Fprintf(out, "listening on http://%s (%s); stop with Ctrl-C\n", ln.Addr(), db.URL())
			return context.Background()
		},
	}
	err = registry.ListenAndServe(ctx, reg, srv, registry.ShutdownTimeout(15*time.Second),
		registry.WithHealthHandler("/")) // /livez, /readyz, /status, /status.html
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "shut down: requests finished, registry disconnected")
	return nil
}

// fail answers a request whose database work failed: the status code
// first, then a short text of our own. The error, which may carry the
// driver's text, goes to the log only.
func fail(w http.ResponseWriter, req *http.Request, logger *slog.Logger, err error) {
	status, text := http.StatusInternalServerError, "internal error"
	switch {
	case errors.Is(err, context.Canceled) && req.Context().Err() != nil:
		return // the client went away: nobody reads an answer
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		status, text = http.StatusGatewayTimeout, "the database did not answer in time"
	case unreachable(err), errors.Is(err, registry.ErrConnLost):
		status, text = http.StatusServiceUnavailable, "the database is unavailable; try again"
		w.Header().Set("Retry-After", "1")
	}
	logger.ErrorContext(req.Context(), "request failed", "path", req.URL.Path, "status", status, "error", err)
	http.Error(w, text, status)
}

// unreachable reports an error from a PostgreSQL server that could not be
// reached or went away (no answer, a refused or dropped connection, SQLSTATE
// class 08, a server shutting down): the request may work later. An error
// the server answered with (a bad statement, a constraint) is the
// request's, or ours.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03"
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
