package dbnode_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/node/dbnode"
	"github.com/dbactor/dbactor/registry"
)

// shutdownOnce shuts c down gracefully once (also at cleanup), timing it.
func shutdownOnce(t *testing.T, c *cluster.Cluster) func() {
	var once sync.Once
	f := func() {
		once.Do(func() {
			start := time.Now()
			c.Shutdown(true)
			t.Logf("member %s shut down in %v", c.ActorSystem.Address(), time.Since(start).Round(time.Millisecond))
		})
	}
	t.Cleanup(f)
	return f
}

// useRegistry connects the registry identity through the cluster, checks
// the count, runs statements and disconnects.
func useRegistry(t *testing.T, ctx context.Context, c *cluster.Cluster, identity string) {
	t.Helper()
	cl, err := node.ClusterClient(c, identity, client.WithCallTimeout(callTimeout))
	require.NoError(t, err)
	defer func() { require.NoError(t, cl.Close(ctx)) }()
	db := cl.Database()

	require.NoError(t, cl.Connect(ctx))
	st, err := db.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.RefCount)
	require.True(t, st.Connected)
	require.Equal(t, client.SQLite, st.Dialect)
	require.Contains(t, st.URL, identity+".db")

	_, err = db.Exec(ctx, "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)")
	require.NoError(t, err)
	changed, err := db.Exec(ctx, "INSERT INTO notes (body) VALUES (?)", identity)
	require.NoError(t, err)
	require.EqualValues(t, 1, changed)
	res, err := db.Query(ctx, "SELECT body FROM notes")
	require.NoError(t, err)
	require.Equal(t, [][]any{{identity}}, res.Rows)

	require.NoError(t, cl.Disconnect(ctx))
	st, err = db.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, st.RefCount)
	require.False(t, st.Connected)
}

// TestClusterSingleMember: the registry kind in a one-member cluster
// (in-memory provider), addressed by identity.
func TestClusterSingleMember(t *testing.T) {
	if !testnode.Isolate(t) {
		return
	}
	dir := t.TempDir()
	sys := registry.NewActorSystem(nil)
	c := cluster.New(sys, cluster.Configure(clusterName,
		test.NewTestProvider(test.NewInMemAgent()), disthash.New(),
		remote.Configure("127.0.0.1", 0, clusterHardening(sys)...),
		cluster.WithKinds(dbnode.Kind(clusterConfigs(dir)))))
	c.StartMember()
	shutdown := shutdownOnce(t, c)
	ctx := testCtx(t, time.Minute)

	useRegistry(t, ctx, c, "reg-main")
	pid := c.Get("reg-main", node.KindName)
	require.NotNil(t, pid)
	require.Equal(t, sys.Address(), pid.GetAddress())

	// An identity the configuration does not know: every call says so.
	cl, err := node.ClusterClient(c, "nope", client.WithCallTimeout(callTimeout))
	require.NoError(t, err)
	require.ErrorIs(t, cl.Connect(ctx), registry.ErrInvalidConfig)
	_, err = cl.Databases(ctx)
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
	_, err = cl.Database().Status(ctx)
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
	require.NoError(t, cl.Close(ctx))

	shutdown()
}

// TestClusterTwoMembers: two members in two processes (automanaged
// provider on loopback) host the registry kind; from this member, registries
// placed on either member are used by identity.
func TestClusterTwoMembers(t *testing.T) {
	if !testnode.Isolate(t) {
		return
	}
	dir := t.TempDir()
	ports, err := testnode.FreePorts(2)
	require.NoError(t, err)
	hosts := []string{fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])}

	child := testnode.Start(t, "member", envClusterDir+"="+dir,
		envAutoHosts+"="+strings.Join(hosts, ","), envAutoPort+"="+strconv.Itoa(ports[1]))
	// When this member leaves, the child blocks it in remote.BlockList,
	// whose readers take no lock: a race inside Proto.Actor's cluster that
	// the child reports. This process, which leaves first, can meet it too
	// (it blocks the child as it goes): it is one of testnode's known
	// races, for which Isolate runs the test once more.
	child.AllowDependencyRaces()

	sys := registry.NewActorSystem(nil)
	both := make(chan struct{})
	var bothOnce sync.Once
	sub := sys.EventStream.Subscribe(func(ev any) {
		if top, ok := ev.(*cluster.ClusterTopology); ok && len(top.GetMembers()) == 2 {
			bothOnce.Do(func() { close(both) })
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	start := time.Now()
	c := cluster.New(sys, cluster.Configure(clusterName,
		automanagedProvider(ports[0], hosts), disthash.New(),
		remote.Configure("127.0.0.1", 0, clusterHardening(sys)...),
		cluster.WithKinds(dbnode.Kind(clusterConfigs(dir)))))
	c.StartMember()
	shutdown := shutdownOnce(t, c)
	childAddr := child.Expect("ADDR ")
	receive(t, both, 20*time.Second, "a topology of both members")
	t.Logf("two-member cluster formed in %v: this member %s, child %s", time.Since(start).Round(time.Millisecond), sys.Address(), childAddr)
	ctx := testCtx(t, time.Minute)

	// Place identities until each member hosts one (rendezvous hashing
	// puts each on either member with even odds: 32 all on one member
	// would happen once in 2^31 runs).
	hosted := map[string]string{} // member address → identity
	for i := 0; i < 32 && len(hosted) < 2; i++ {
		id := fmt.Sprintf("reg-%d", i)
		pid := c.Get(id, node.KindName)
		require.NotNil(t, pid, "placing %s", id)
		if _, ok := hosted[pid.GetAddress()]; !ok {
			hosted[pid.GetAddress()] = id
		}
	}
	require.Contains(t, hosted, sys.Address(), "an identity on this member")
	require.Contains(t, hosted, childAddr, "an identity on the child member")
	for _, addr := range []string{sys.Address(), childAddr} {
		id := hosted[addr]
		where := "this member"
		if addr == childAddr {
			where = "the child member"
		}
		t.Logf("registry %s is hosted on %s (%s)", id, where, addr)
		useRegistry(t, ctx, c, id)
	}

	shutdown()
	child.Quit()
}
