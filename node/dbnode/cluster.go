package node

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// KindName is the cluster kind of dbactor registries.
const KindName = "dbactor-registry"

// Configs gives the registry configuration of a cluster identity: the
// registry called identity. An error (say, an unknown identity) makes that
// registry answer every request with ErrInvalidConfig.
type Configs func(identity string) (registry.Config, []registry.Option, error)

// Kind returns the cluster kind of dbactor registries: register it on
// every member that may host registries (cluster.WithKinds). Each
// identity is one registry, configured by configs, activated on the member
// the cluster places it on; its pools live on that member. When the
// topology changes — a member leaves, or one joins and the identity now
// hashes to it — the activation stops (its databases close) and the next
// call activates it on its new member with fresh pools and counts:
// Proto.Actor's grains keep no state across members. Clients then connect
// again; plan for it (or use a fixed node with Start when pools must
// stay put).
func Kind(configs Configs) *cluster.Kind {
	return cluster.NewKind(KindName, actor.PropsFromProducer(func() actor.Actor { return &clusterRegistry{configs: configs} }))
}

// clusterRegistry is the activation of one identity: it learns the
// identity from ClusterInit, spawns that registry as its child and hands it
// every request, keeping the sender.
type clusterRegistry struct {
	configs  Configs
	registry *actor.PID
	refusal  *messages.Error
}

// Receive implements actor.Actor.
func (a *clusterRegistry) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *cluster.ClusterInit:
		a.start(c, m.Identity.GetIdentity())
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting, *actor.Terminated:
	default:
		switch {
		case a.registry != nil:
			c.Forward(a.registry)
		case c.Sender() != nil:
			e := a.refusal
			if e == nil {
				e = &messages.Error{Code: messages.Code_CODE_INTERNAL, Message: "cluster registry not initialised"}
			}
			if reply := messages.FailedReply(m, e); reply != nil {
				c.Respond(reply)
			}
		}
	}
}

func (a *clusterRegistry) start(c actor.Context, identity string) {
	cfg, opts, err := a.configs(identity)
	if err != nil {
		a.refusal = &messages.Error{Code: messages.Code_CODE_INVALID_CONFIG, Message: fmt.Sprintf("registry %q: %v", identity, err)}
		return
	}
	pid, err := c.SpawnNamed(registry.Props(cfg, opts...), "registry")
	if err != nil {
		a.refusal = &messages.Error{Code: messages.Code_CODE_INTERNAL, Message: "spawning registry: " + err.Error()}
		return
	}
	a.registry = pid
}

// ClusterClient returns a client for the registry called identity in the
// cluster c: every call finds the registry's current activation (a lookup
// bounded by the call's ctx), so the client follows it when the cluster
// moves it.
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
