package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/node/dbnode"
	"github.com/dbactor/dbactor/registry"
)

// P6: remote lifecycle operations. The benchmark process is a client node
// (node.StartClient); the database node is a child process — this test
// binary again (testnode, role p6Role): two Proto.Actor remotes in one
// process are not race-clean, and two processes are what a deployment
// has. Both talk over loopback.
//
// The database node hosts a registry on PostgreSQL (DBACTOR_TEST_DATABASE)
// or, without one, on an SQLite file, which it connects once itself, so the
// databases stay open and every measured op only moves the counts; and,
// beside it, a bare echo actor that answers a *messages.GetStatus with an
// empty *messages.Status.
//
//   - dbactor: client.Connect + client.Disconnect on a client.Client
//     (registry-wide, counts 1 → 2 → 1): two round trips through the
//     client facade (gates, deadline, the watch of the registry's node,
//     internal/request), the registry actor (tracking the client's counts),
//     the supervisor and the database actor on the other node.
//   - reference: two bare request/responses to the echo actor with
//     internal/request.Request, the very mechanism the client sends its
//     requests and waits for its replies with (a reply process registered
//     per request, no future), carrying protobuf messages of the same
//     protocol over the same connection between the two nodes. It is the
//     cost of a remote round trip itself; what dbactor adds to it is the
//     facade and the actors' work.
//
// Target: dbactor ns/op ÷ reference ns/op ≤ 1.3. scripts/bench.sh runs P6
// in rounds of -count=1 that alternate which side goes first, as P1.

// p6Role is the testnode role of the database node.
const p6Role = "bench-p6-db"

// envP6DSN gives the database node its database URL.
const envP6DSN = "DBACTOR_BENCH_P6_DSN"

// envP6Profile, when set, makes the database node write a CPU profile of
// its whole run to that file (-cpuprofile profiles the client node only).
const envP6Profile = "DBACTOR_BENCH_P6_NODE_CPUPROFILE"

// p6Echo is the name of the echo actor on the database node.
const p6Echo = "p6-echo"

// p6Timeout bounds each reference request (the client's calls take
// client.DefaultTimeout, as an application's would).
const p6Timeout = 30 * time.Second

// init runs the database node instead of the benchmarks when this binary
// is started as one. TestMain (main_test.go) is not the place: it belongs
// to every benchmark of the package.
func init() {
	if testnode.Role() == p6Role {
		if err := p6Node(); err != nil {
			fmt.Fprintln(os.Stderr, "p6 database node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// echo answers every GetStatus with an empty Status.
type echo struct{}

func (echo) Receive(c actor.Context) {
	if _, ok := c.Message().(*messages.GetStatus); ok {
		c.Respond(&messages.Status{})
	}
}

// p6Node is the database node: it prints "ADDR <address>" once the registry
// is connected and the echo actor is up, and runs until its stdin closes.
func p6Node() error {
	if path := os.Getenv(envP6Profile); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	// P6's requests need only the default grant. For P7, peers on this
	// machine may also read and write the main database, and read (only)
	// an extra database on the same server.
	policy := node.Policy{Peers: map[string][]node.Grant{
		node.LoopbackIdentity: {
			{Ops: node.OpRead | node.OpWrite, Databases: []string{""}},
			{Ops: node.OpRead, Databases: []string{p7ReadOnly}},
		},
	}}
	cfg := registry.Config{Database: os.Getenv(envP6DSN)}
	if os.Getenv(envP7) != "" {
		cfg.Extra = map[string]string{p7ReadOnly: cfg.Database}
	}
	n, err := dbnode.Start(node.Config{Policy: policy}, cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := n.Registry.Connect(ctx); err != nil {
		return err
	}
	pid, err := n.System.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return echo{} }), p6Echo)
	if err != nil {
		return err
	}
	// Its GetStatus is a request: the trust boundary lets peers send
	// requests to exported registries only, and checks them as it checks
	// the registry's, so both sides of P6 pay for the boundary alike.
	n.ExportRegistry(pid)
	if os.Getenv(envP7) != "" {
		qpid, err := n.System.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
			return &queryActor{pool: n.Registry.Database().Pool()}
		}), p7QueryActor)
		if err != nil {
			return err
		}
		n.ExportRegistry(qpid) // a peer's request to it is checked as the registry's
	}
	out := testnode.NewOut(os.Stdout)
	out.Printf("ADDR %s", n.Address())
	testnode.Commands(os.Stdin, func(string, []string) bool { return true })
	_ = n.System.Root.StopFuture(pid).Wait()
	return n.Close(ctx)
}

type p6Fixture struct {
	sys    *actor.ActorSystem
	client *client.Client
	echo   *actor.PID
}

// p6Setup starts the client node here and the database node in a child
// process, attaches a client and warms both paths up (the first request
// to a node opens the connection). Cleanup closes the client, then the
// client node, then the database node (its stdin closes; it closes its
// node and exits): a client node closing after its peer went away can leave
// gRPC reconnecting to it (Proto.Actor does not close that connection).
func p6Setup(b *testing.B) *p6Fixture {
	b.Helper()
	dsn := "sqlite:///" + filepath.Join(b.TempDir(), "p6.db")
	if strings.TrimSpace(os.Getenv(testdb.EnvDSN)) != "" {
		dsn = postgresDSN(b)
	}
	return remoteSetup(b, dsn)
}

// remoteSetup starts the database node on dsn in a child process and the
// client node here (see p6Setup), with env added to the child's
// environment.
func remoteSetup(b *testing.B, dsn string, env ...string) *p6Fixture {
	b.Helper()
	child := testnode.Start(b, p6Role, append([]string{envP6DSN + "=" + dsn}, env...)...)
	b.Cleanup(child.Quit) // before testnode's own cleanup, which kills it
	n, err := node.StartClient(node.Config{})
	if err != nil {
		b.Fatalf("starting the client node: %v", err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			b.Errorf("closing the client node: %v", err)
		}
	})
	addr := child.Expect("ADDR ")
	cl, err := n.Attach(addr, "")
	if err != nil {
		b.Fatalf("attaching: %v", err)
	}
	b.Cleanup(func() {
		if err := cl.Close(setupContext(b)); err != nil {
			b.Errorf("closing the client: %v", err)
		}
	})
	f := &p6Fixture{sys: n.System, client: cl, echo: actor.NewPID(addr, p6Echo)}
	ctx := setupContext(b)
	for range 100 {
		if err := f.connectDisconnect(ctx); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
		if err := f.roundTrip(ctx); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	f.checkCount(b)
	return f
}

// connectDisconnect is one dbactor op.
func (f *p6Fixture) connectDisconnect(ctx context.Context) error {
	if err := f.client.Connect(ctx); err != nil {
		return err
	}
	return f.client.Disconnect(ctx)
}

// roundTrip is one bare remote request/response; a reference op is two.
func (f *p6Fixture) roundTrip(ctx context.Context) error {
	reply, err := request.Request(ctx, f.sys, f.echo, &messages.GetStatus{}, p6Timeout)
	if err != nil {
		return err
	}
	if _, ok := reply.(*messages.Status); !ok {
		return fmt.Errorf("unexpected reply %T", reply)
	}
	return nil
}

// checkCount fails b unless the main database is connected once — the
// database node's own connect: every connect of the client was matched by
// a disconnect.
func (f *p6Fixture) checkCount(b *testing.B) {
	b.Helper()
	connectedOnce(b, f.client.Database().Status)
}

// BenchmarkP6RemoteConnectDisconnect (target P6): one goroutine, one op at
// a time, across two processes on loopback; a reference op is two bare
// remote round trips.
func BenchmarkP6RemoteConnectDisconnect(b *testing.B) {
	f := p6Setup(b)
	pair(b, pairOptions{}, serialBatch(f.connectDisconnect), serialBatch(func(ctx context.Context) error {
		if err := f.roundTrip(ctx); err != nil {
			return err
		}
		return f.roundTrip(ctx)
	}))
	f.checkCount(b)
}
