// Command httpserver serves HTTP with the registry connected for the
// server's whole life, like an ASGI app under Edgy's registry.asgi lifespan:
// the registry connects before the server listens (if it cannot, the server
// never listens and the program exits with the connect error), requests
// query through the pools the database actors own, and on SIGINT or SIGTERM
// the server stops listening, lets the requests in flight finish with their
// databases, and only then disconnects.
//
// It runs on the embedded SQLite, in a temporary directory, unless a
// PostgreSQL URL is given with -db or DBACTOR_TEST_DATABASE:
//
//	go run ./examples/httpserver                        # then: curl http://127.0.0.1:8080/
//	go run ./examples/httpserver -addr 127.0.0.1:9000 -db postgres://postgres@127.0.0.1:5432/test
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

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
	reg, err := registry.New(nil, registry.Config{Database: dbURL})
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
	// Schema calls connect on demand: the table exists before the server
	// starts, whether or not the registry is connected.
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
		// not when the server begins to shut down.
		ctx := req.Context()
		sqldb := db.DB()
		if _, err := sqldb.ExecContext(ctx, insert, req.URL.Path); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var n int
		if err := sqldb.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "visit %d, served from %s\n", n, db.Dialect())
		// On PostgreSQL the pgx pool is there too, for pgx's own API.
		if pool := db.Pool(); pool != nil {
			var version string
			if err := pool.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprintf(w, "PostgreSQL %s, %d pooled connections\n", version, pool.Stat().TotalConns())
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
	err = registry.ListenAndServe(ctx, reg, srv, registry.ShutdownTimeout(15*time.Second))
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "shut down: requests finished, registry disconnected")
	return nil
}
