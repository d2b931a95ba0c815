// Command callbacks subscribes actors to model registrations: a Go func made
// into a callback actor, and an actor of your own. Each registration reaches
// them as a protobuf messages.ModelRegistered, in registration order, so a
// callback actor could as well live on another node. Runs on the embedded
// SQLite; no server.
//
//	go run ./examples/callbacks
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

type User struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name"`
}

type Invoice struct {
	ID     int64   `db:"id,pk"`
	UserID int64   `db:"user_id,references=users.id,ondelete=cascade"`
	Amount float64 `db:"amount"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "callbacks:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "dbactor-callbacks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	system := registry.NewActorSystem(nil)
	defer system.Shutdown()
	reg, err := registry.New(system, registry.Config{
		Database:        "sqlite:///" + filepath.Join(dir, "app.db"),
		WithContentType: true, // every model gets a content_type reference
	})
	if err != nil {
		return err
	}
	defer reg.Close(ctx)

	// 1. A Go func as a callback actor for every model (persistent by default).
	events := make(chan string, 16)
	if _, err := reg.RegisterCallbackFunc(ctx, "", func(ev *messages.ModelRegistered) {
		events <- fmt.Sprintf("all-models callback: %s (table %s, #%d)", ev.GetName(), ev.GetTable(), ev.GetSequence())
	}); err != nil {
		return err
	}
	fmt.Println("1.", <-events) // fired at once for the model already registered: ContentType

	// 2. An actor of your own, for one model (one-time by default).
	mine := system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if ev, ok := c.Message().(*messages.ModelRegistered); ok {
			events <- "your actor: " + ev.GetName() + " is registered"
		}
	}))
	if err := reg.RegisterCallback(ctx, "Invoice", mine); err != nil {
		return err
	}

	// 3. Register models; callbacks fire in Edgy's order.
	for _, m := range []any{User{}, Invoice{}} {
		model, err := reg.RegisterModel(ctx, m)
		if err != nil {
			return err
		}
		cols := []string{}
		for _, c := range model.Columns() {
			cols = append(cols, c.GetName())
		}
		fmt.Printf("2. registered %s %v\n", model.Name(), cols)
	}
	for range 3 {
		fmt.Println("3.", <-events)
	}

	// 4. Tables for every model, with the content-type references.
	if err := reg.CreateAll(ctx); err != nil {
		return err
	}
	fmt.Println("4. created tables", reg.TableNames())
	return reg.Close(ctx)
}
