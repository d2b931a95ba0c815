package dbnode_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/node/dbnode"
	"github.com/dbactor/dbactor/registry"
)

// Under -race a process may host one Proto.Actor remote in its whole life
// (two, even one after the other, race inside the library: see
// internal/testnode). So every test that runs a node here runs in a test
// process of its own (testnode.Isolate), and the other node of a
// multi-node test runs in a child process: the test binary again, in a
// role. The calls of clients on database nodes are tested in package node
// (a database node in a child process there); here the test process hosts.
//
// Child roles (DBACTOR_NODE_ROLE):
//
//   - "client": a client node that attaches to DBACTOR_NODE_ADDR, connects
//     registry-wide and the extra database, prints "HELD <its address>",
//     and waits — the parent SIGKILLs it.
//   - "member": a member of an automanaged cluster (see TestClusterTwoMembers);
//     prints "ADDR <address>" and exits when stdin closes.
const (
	envAddr       = "DBACTOR_NODE_ADDR"
	envClusterDir = "DBACTOR_NODE_CLUSTER_DIR"
	envAutoHosts  = "DBACTOR_NODE_AUTOMAN_HOSTS"
	envAutoPort   = "DBACTOR_NODE_AUTOMAN_PORT"

	extraName = "analytics"

	clusterName = "dbactor-node-test"
)

func TestMain(m *testing.M) {
	if role := testnode.Role(); role != "" {
		os.Exit(testnode.RunRole(role, map[string]func(*testnode.Out) error{"client": roleClient, "member": roleMember}))
	}
	// Each test that runs a node here runs in a process of its own
	// (testnode.Isolate), so these apply to one test at a time.
	goleak.VerifyTestMain(m,
		// Proto.Actor's dead-letter log throttle: started on a dead letter,
		// it ends by itself after the throttle interval (see testdb.VerifyNoLeaks).
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		// The cluster gossip's log throttles: the same, with other intervals.
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster.(*Gossiper).StartGossiping.NewThrottle.func3.1"),
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster.NewGossipActor.NewThrottleWithLogger.func2.1"),
		// The test cluster provider's TTL loop ranges over a ticker's
		// channel, which Ticker.Stop (its Shutdown) never closes.
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster/clusterproviders/test.(*Provider).startTtlReport.func1"),
	)
}

func roleClient(out *testnode.Out) error {
	n, err := node.StartClient(node.Config{})
	if err != nil {
		return err
	}
	cl, err := n.Attach(os.Getenv(envAddr), "")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := cl.Connect(ctx); err != nil {
		return err
	}
	if _, err := cl.Extra(extraName).Connect(ctx); err != nil {
		return err
	}
	out.Printf("HELD %s", n.Address())
	// Hold the counts until killed; a closed stdin means the parent died.
	testnode.Commands(os.Stdin, func(string, []string) bool { return true })
	return nil
}

// clusterConfigs configures the cluster identities "reg-…": an SQLite
// file of their name in dir. Any other identity is unknown.
func clusterConfigs(dir string) dbnode.Configs {
	return func(identity string) (registry.Config, []registry.Option, error) {
		if !strings.HasPrefix(identity, "reg-") {
			return registry.Config{}, nil, fmt.Errorf("unknown registry %q", identity)
		}
		return registry.Config{Database: "sqlite:///" + filepath.Join(dir, identity+".db")}, nil, nil
	}
}

// automanagedRefresh is how often automanaged members poll each other.
const automanagedRefresh = 300 * time.Millisecond

// automanagedProvider is the cluster provider of a member that serves its
// health endpoint on port (of 0.0.0.0) and polls hosts.
func automanagedProvider(port int, hosts []string) cluster.ClusterProvider {
	return automanaged.NewWithConfig(automanagedRefresh, port, hosts...)
}

func roleMember(out *testnode.Out) error {
	port, err := strconv.Atoi(os.Getenv(envAutoPort))
	if err != nil {
		return err
	}
	sys := registry.NewActorSystem(nil)
	c := cluster.New(sys, cluster.Configure(clusterName,
		automanagedProvider(port, strings.Split(os.Getenv(envAutoHosts), ",")), disthash.New(),
		remote.Configure("127.0.0.1", 0, clusterHardening(sys)...),
		cluster.WithKinds(dbnode.Kind(clusterConfigs(os.Getenv(envClusterDir))))))
	c.StartMember()
	out.Printf("ADDR %s", sys.Address())
	testnode.Commands(os.Stdin, func(string, []string) bool { return true })
	// The parent member has left (gracefully) by now: shutting down after
	// it would wait for remote's retries to reach it; the exit is enough.
	return nil
}

// --- helpers of the parent side ---

// callTimeout bounds every call of the tests' clients.
const callTimeout = 15 * time.Second

// closable is a node: a database node, or a client node.
type closable interface {
	Close(context.Context) error
	Address() string
}

// closer closes n once, within 20 s, timing it.
func closer(t *testing.T, n closable) func() {
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

// requireDatabaseCounts checks the counts ev gave back, per database.
func requireDatabaseCounts(t *testing.T, ev *messages.CallerReleased, want map[string]int64) {
	t.Helper()
	got := map[string]int64{}
	for _, d := range ev.GetDatabases() {
		got[d.GetDatabase()] += d.GetCount()
	}
	require.Equal(t, want, got)
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

// clusterHardening is the remote hardening of a cluster member on
// loopback: the members are one deployment, so they trust each other.
func clusterHardening(sys *actor.ActorSystem) []remote.ConfigOption {
	opts, err := node.Harden(sys, node.Config{Trusted: []string{node.LoopbackIdentity}})
	if err != nil {
		panic(err)
	}
	return opts
}
