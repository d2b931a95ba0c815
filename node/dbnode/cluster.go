package dbnode

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/registry"
)

// Configs gives the registry configuration of a cluster identity: the
// registry called identity. An error (say, an unknown identity) makes that
// registry answer every request with registry.ErrInvalidConfig.
type Configs func(identity string) (registry.Config, []registry.Option, error)

// Kind returns the cluster kind of dbactor registries (node.KindName):
// register it on every member that may host registries
// (cluster.WithKinds). Each identity is one registry, configured by
// configs, activated on the member the cluster places it on; its pools
// live on that member. When the topology changes — a member leaves, or one
// joins and the identity now hashes to it — the activation stops (its
// databases close) and the next call activates it on its new member with
// fresh pools and counts: Proto.Actor's grains keep no state across
// members. Clients then connect again; plan for it (or use a fixed node
// with Start when pools must stay put). Any member reaches a registry by
// identity with node.ClusterClient.
func Kind(configs Configs) *cluster.Kind {
	return cluster.NewKind(node.KindName, actor.PropsFromProducer(func() actor.Actor { return &clusterRegistry{configs: configs} }))
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
