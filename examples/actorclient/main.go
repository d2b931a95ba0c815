// Command actorclient shows an actor that uses the registry without ever
// blocking its Receive. As it starts it connects through the registry
// (client.Async), keeps answering pings while the connect is under
// way, then creates a schema and disconnects: each step a continuation
// that runs on the actor when the registry's reply comes. An on-connect
// hook that waits for main stands in for a slow server, so the pings
// visibly land while the connect is pending.
//
//	go run ./examples/actorclient                  # embedded SQLite in a temp dir
//	go run ./examples/actorclient 'postgres://…'   # or any database URL
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/registry"
)

const (
	schema = "actorclient_demo"
	// timeout bounds each request the client makes.
	timeout = 10 * time.Second
)

func main() {
	url := ""
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	if err := run(os.Stdout, url); err != nil {
		fmt.Fprintln(os.Stderr, "actorclient:", err)
		os.Exit(1)
	}
}

// ping asks the client which step it is at; it answers with a pong.
type ping struct{}

type pong struct{ step string }

// event is what the client reports to main: a step done, or a failure.
type event struct {
	text string
	err  error
}

// app is the actor. Its fields are its own state: Receive and the
// continuations of its registry calls both run on its goroutine, one at a
// time, so they need no lock.
type app struct {
	// reg is the registry seen from inside the actor: its calls never block.
	reg    client.Async
	step   string
	events chan<- event
}

// Receive implements actor.Actor.
func (a *app) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *actor.Started:
		a.step = "connecting"
		a.reg.Connect(c, func(err error) {
			if a.failed("connect", err) {
				return
			}
			a.report("connected")
			a.step = "creating a schema"
			a.reg.CreateSchema(c, schema, func(err error) {
				if a.failed("create schema", err) {
					return
				}
				a.report(fmt.Sprintf("schema %q created", schema))
				a.step = "disconnecting"
				a.reg.Disconnect(c, func(err error) {
					if a.failed("disconnect", err) {
						return
					}
					a.step = "done"
					a.report("disconnected")
				})
			}, registry.IfNotExists())
		})
		// Started returns here, long before the connect is done.
		a.report("started; connecting through the registry")
	case ping:
		c.Respond(pong{step: a.step})
	}
}

func (a *app) report(text string) { a.events <- event{text: text} }

func (a *app) failed(op string, err error) bool {
	if err != nil {
		a.step = "failed"
		a.events <- event{err: fmt.Errorf("%s: %w", op, err)}
	}
	return err != nil
}

func run(w io.Writer, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if url == "" {
		dir, err := os.MkdirTemp("", "dbactor-actorclient-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		url = "sqlite:///" + filepath.Join(dir, "app.db")
	}

	// The "slow server": the first connect waits in this hook until main
	// lets it go.
	serverReady := make(chan struct{})
	slow := actors.Hooks{OnConnect: func(ctx context.Context) error {
		select {
		case <-serverReady:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	sys := registry.NewActorSystem(nil)
	defer sys.Shutdown()
	reg, err := registry.New(sys, registry.Config{Database: url}, registry.WithHooks("", slow))
	if err != nil {
		return err
	}
	defer reg.Close(ctx)

	events := make(chan event, 8)
	next := func() (string, error) {
		select {
		case e := <-events:
			return e.text, e.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &app{reg: client.Async{Registry: reg.PID(), Timeout: timeout}, events: events}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()

	text, err := next()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "1. client %s\n", text)

	// 2. The connect is pending, and the client still answers.
	for i := 1; i <= 3; i++ {
		res, err := sys.Root.RequestFuture(pid, ping{}, timeout).Result()
		if err != nil {
			return fmt.Errorf("ping %d: %w", i, err)
		}
		prefix := "  "
		if i == 1 {
			prefix = "2."
		}
		fmt.Fprintf(w, "%s ping %d answered while %s\n", prefix, i, res.(pong).step)
	}

	// 3. The server answers: the client's continuations run, one by one.
	close(serverReady)
	fmt.Fprintln(w, "3. the server is ready; the client carries on:")
	for text != "disconnected" {
		if text, err = next(); err != nil {
			return err
		}
		fmt.Fprintln(w, "  ", text)
	}

	// 4. What the client left behind, through the facade.
	st, err := reg.Database().Status(ctx)
	if err != nil {
		return err
	}
	schemas, err := reg.Schemas(ctx, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "4. ref count %d, connected %v; schema %q exists: %v\n",
		st.RefCount, st.Connected, schema, slices.Contains(schemas, schema))
	return reg.DropSchema(ctx, schema, registry.IfExists())
}
