package node

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/dbactor/dbactor/client"
)

// KindName is the cluster kind of dbactor registries (dbnode.Kind).
const KindName = "dbactor-registry"

// ClusterClient returns a client for the registry called identity in the
// cluster c: every call finds the registry's current activation (a lookup
// bounded by the call's ctx), so the client follows it when the cluster
// moves it. The members that may host registries register dbnode.Kind.
func ClusterClient(c *cluster.Cluster, identity string, opts ...client.Option) (*client.Client, error) {
	return client.AttachFunc(c.ActorSystem, func(ctx context.Context) (*actor.PID, error) {
		// The lookup may ask the member that owns the identity, with a
		// timeout of its own (5 s): do not let it outlast ctx.
		found := make(chan *actor.PID, 1)
		go func() { found <- c.Get(identity, KindName) }()
		select {
		case pid := <-found:
			if pid == nil {
				return nil, fmt.Errorf("no activation of %s %q in the cluster", KindName, identity)
			}
			return pid, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("looking up %s %q: %w", KindName, identity, context.Cause(ctx))
		}
	}, opts...)
}
