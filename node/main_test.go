package node_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/node/dbnode"
	"github.com/dbactor/dbactor/registry"
)

// Under -race a process may host one Proto.Actor remote in its whole life
// (two, even one after the other, race inside the library: see
// internal/testnode). So every test that runs a node here runs in a test
// process of its own (testnode.Isolate), and the other node of a
// multi-node test runs in a child process: the test binary again, in a
// role.
//
// Child roles (DBACTOR_NODE_ROLE):
//
//   - "db": a database node (dbnode.Start) for the registry Config in
//     DBACTOR_NODE_DSN / _EXTRA_DSN / _SLOW_DSN. It prints "ADDR <address>",
//     a "RELEASED <CallerReleased as JSON>" line per caller the registry
//     gave counts back for, and answers stdin commands with "OK …" or
//     "ERR …": `register <model>` (registers a model of that name),
//     `connect` / `disconnect` (registry-wide, untracked: the node's own
//     counts), `status` ("OK main=<n> analytics=<n>"). When stdin closes
//     it closes the registry and exits 0.
//
// The tests of hosting a registry in the test process itself (database
// nodes, cluster members) are package dbnode's.
//
// The parent's node stops first: a node whose peer has gone races inside
// Proto.Actor when it then stops remote gracefully (endpointManager.stop
// writes what the peer's endpoint-terminated handler read), so the
// children, which outlive the parent's node, exit without stopping remote.
const (
	envDSN      = "DBACTOR_NODE_DSN"
	envExtraDSN = "DBACTOR_NODE_EXTRA_DSN"
	envSlowDSN  = "DBACTOR_NODE_SLOW_DSN"
	envTLSDir   = "DBACTOR_NODE_TLS_DIR"
	envHost     = "DBACTOR_NODE_HOST" // set: listen there, Insecure

	extraName = "analytics"
	slowName  = "slow"
)

func TestMain(m *testing.M) {
	if role := testnode.Role(); role != "" {
		os.Exit(testnode.RunRole(role, map[string]func(*testnode.Out) error{"db": roleDB}))
	}
	// Each test that runs a node here runs in a process of its own
	// (testnode.Isolate), so these apply to one test at a time.
	opts := []goleak.Option{
		// Proto.Actor's dead-letter log throttle: started on a dead letter,
		// it ends by itself after the throttle interval (see testdb.VerifyNoLeaks).
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	}
	if strings.HasPrefix(os.Getenv(testnode.EnvIsolated), "TestKilledDatabaseNode/connect_in_flight") {
		// That test calls a node that is gone, on purpose. Proto.Actor's
		// endpoint writer then dials it 5 times and never closes the gRPC
		// ClientConn of a failed try (endpointWriter.initializeInternal
		// returns without conn.Close): those keep reconnecting for ever.
		opts = append(opts,
			goleak.IgnoreTopFunction("google.golang.org/grpc.(*addrConn).resetTransport"),
			goleak.IgnoreTopFunction("google.golang.org/grpc.(*addrConn).resetTransportAndUnlock"), // its name in grpc v1.85
			goleak.IgnoreTopFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"))
	}
	goleak.VerifyTestMain(m, opts...)
}

// grantAll lets loopback peers make every request.
var grantAll = node.Policy{Peers: map[string][]node.Grant{node.LoopbackIdentity: {{Ops: node.OpAll}}}}

// widget is the model the db role registers, under the name it is given.
type widget struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name"`
}

func roleDB(out *testnode.Out) error {
	cfg := registry.Config{Database: os.Getenv(envDSN), Extra: map[string]string{}}
	if dsn := os.Getenv(envExtraDSN); dsn != "" {
		cfg.Extra[extraName] = dsn
	}
	if dsn := os.Getenv(envSlowDSN); dsn != "" {
		cfg.Extra[slowName] = dsn
	}
	// The tests' clients are plaintext peers on loopback: grant them
	// everything (the trust boundary's own tests are in tests/security).
	ncfg := node.Config{Policy: grantAll, Logger: debugLogger(), Host: os.Getenv(envHost), Insecure: os.Getenv(envHost) != ""}
	if dir := os.Getenv(envTLSDir); dir != "" {
		// Mutual TLS with the certificates the parent wrote (node.crt…).
		ncfg.CertFile, ncfg.KeyFile, ncfg.CAFile = filepath.Join(dir, "db.crt"), filepath.Join(dir, "db.key"), filepath.Join(dir, "ca.crt")
		ncfg.Policy = node.Policy{Peers: map[string][]node.Grant{"client": {{Ops: node.OpAll}}}}
	}
	n, err := dbnode.Start(ncfg, cfg, registry.WithEventHook(func(ev messages.Event) {
		if r, ok := ev.(*messages.CallerReleased); ok {
			b, _ := protojson.Marshal(r)
			out.Printf("RELEASED %s", b)
		}
	}))
	if err != nil {
		return err
	}
	out.Printf("ADDR %s", n.Address())
	testnode.Commands(os.Stdin, func(cmd string, args []string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var err error
		var res string
		switch cmd {
		case "register":
			if len(args) != 1 {
				err = errors.New("usage: register <model>")
				break
			}
			var m *models.Model
			if m, err = n.Registry.RegisterModel(ctx, widget{}, models.Name(args[0])); err == nil {
				res = m.Name()
			}
		case "connect":
			err = n.Registry.Connect(ctx)
		case "disconnect":
			err = n.Registry.Disconnect(ctx)
		case "status":
			var parts []string
			for _, db := range n.Registry.Databases() {
				st, e := db.Status(ctx)
				if e != nil {
					err = e
					break
				}
				name := db.Name()
				if name == "" {
					name = "main"
				}
				parts = append(parts, fmt.Sprintf("%s=%d", name, st.RefCount))
			}
			res = strings.Join(parts, " ")
		default:
			err = fmt.Errorf("unknown command %q", cmd)
		}
		if err != nil {
			out.Printf("ERR %s: %v", cmd, err)
		} else {
			out.Printf("OK %s", res)
		}
		return true
	})
	// The parent closes its node first. Once a peer has gone, a graceful
	// remote shutdown races inside Proto.Actor (endpointManager.stop
	// writes what the peer's endpoint-terminated handler read) and retries
	// reaching the gone peer for 10 s: close the registry — its pools —
	// and let the process exit take the listener.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return n.Registry.Close(ctx)
}

// --- helpers of the parent side ---

// callTimeout bounds every call of the tests' clients.
const callTimeout = 15 * time.Second

// startDBChild starts a database node in a child process and returns it
// with its address.
func startDBChild(t *testing.T, env ...string) (*testnode.Child, string) {
	t.Helper()
	child := testnode.Start(t, "db", env...)
	return child, child.Expect("ADDR ")
}

// startClientNode starts a client node in this process; close (also run
// at cleanup) closes it once.
func startClientNode(t *testing.T) (n *node.Node, closeNode func()) {
	t.Helper()
	n, err := node.StartClient(node.Config{Logger: debugLogger()})
	require.NoError(t, err)
	return n, closer(t, n)
}

// closer closes n once, within 20 s, timing it.
func closer(t *testing.T, n *node.Node) func() {
	var once sync.Once
	f := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			if err := n.Close(ctx); err != nil {
				t.Errorf("closing node %s: %v", n.Address(), err)
			}
			t.Logf("node %s closed in %v", n.Address(), time.Since(start).Round(time.Millisecond))
		})
	}
	t.Cleanup(f)
	return f
}

// attach attaches a client to the registry at addr and closes it at cleanup.
func attach(t *testing.T, n *node.Node, addr string) *client.Client {
	t.Helper()
	cl, err := n.Attach(addr, "", client.WithCallTimeout(callTimeout))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = cl.Close(ctx)
	})
	return cl
}

// collector is an actor that hands every user message it gets to a channel.
func collector[T any](t *testing.T, sys *actor.ActorSystem) (*actor.PID, <-chan T) {
	ch := make(chan T, 64)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(T); ok {
			ch <- m
		}
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	return pid, ch
}

// receive waits up to wait for a value from ch.
func receive[T any](t *testing.T, ch <-chan T, wait time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("no %s within %v", what, wait)
		var zero T
		return zero
	}
}

// sqliteDSN is the DSN of an SQLite file in dir.
func sqliteDSN(dir, name string) string { return "sqlite:///" + filepath.Join(dir, name+".db") }

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// debugLogger logs to stderr when DBACTOR_NODE_DEBUG is set, else nowhere.
func debugLogger() *slog.Logger {
	if os.Getenv("DBACTOR_NODE_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
