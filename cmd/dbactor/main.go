// Command dbactor runs migrations for a registry described by flags or
// environment: dbactor migrate up|down|status|create, dbactor diff. Run
// dbactor --help. Exit codes: 0 ok, 1 a migration failed, 2 usage, 3
// configuration or connection, 4 --check found work to do.
//
// An application that wants the same commands with its own registered
// models builds its own binary on package migrate/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dbactor/dbactor/migrate/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := (&cli.App{Name: "dbactor"}).Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
