package dbnode

import (
	"context"
	"errors"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/registry"
)

// Node is a database node: a node (its System, Remote, Address, Attach,
// Export…) hosting Registry, exported to its peers.
type Node struct {
	*node.Node
	// Registry is the registry the node hosts, under its Config.Name.
	Registry *registry.Registry
}

// Start starts a database node: an actor system, remote on cfg's address
// (hardened, see node.Harden), and then — so that its PID is usable from
// other nodes — a registry for reg under cfg.Name, exported to peers under
// cfg.Policy (node.Node.ExportRegistry). The registry logs to cfg.Logger;
// opts come after that and the name. When cfg.MaxDeadline is unset and
// reg.Timeout is longer than client.DefaultTimeout, peers may set
// deadlines as far ahead as reg.Timeout. Start connects nothing: clients
// (or the node itself) connect.
//
// Incomplete TLS material or plaintext on a host that is not loopback
// (node.ErrInsecure) is an error found before anything listens; a port
// already in use is found as remote starts, and an invalid reg
// (registry.ErrInvalidConfig) once it has started, which is then stopped
// again: nothing is left running on any error.
func Start(cfg node.Config, reg registry.Config, opts ...registry.Option) (*Node, error) {
	cfg = nodeConfig(cfg, reg)
	n, err := node.StartClient(cfg)
	if err != nil {
		return nil, err
	}
	first := []registry.Option{registry.WithName(cfg.Name)}
	if cfg.Logger != nil {
		// Without one, the registry's warnings go to slog.Default().
		first = append(first, registry.WithLogger(cfg.Logger))
	}
	opts = append(first, opts...)
	r, err := registry.New(n.System, reg, opts...)
	if err != nil {
		_ = n.Close(context.Background())
		return nil, err
	}
	n.ExportRegistry(r.PID())
	return &Node{Node: n, Registry: r}, nil
}

// nodeConfig is cfg as Start gives it to node.StartClient: the registry's
// name set (the node's default, which the registry must share), and a
// MaxDeadline as long as a longer reg.Timeout. (A nil Logger needs no
// default: the node and the registry both discard their logs then.)
func nodeConfig(cfg node.Config, reg registry.Config) node.Config {
	if cfg.MaxDeadline <= 0 && reg.Timeout > client.DefaultTimeout {
		// A registry given longer gives its peers as long.
		cfg.MaxDeadline = reg.Timeout
	}
	if cfg.Name == "" {
		cfg.Name = node.DefaultName
	}
	return cfg
}

// PID is the registry actor: peers reach it as
// node.RegistryPID(n.Address(), cfg.Name).
func (n *Node) PID() *actor.PID { return n.Registry.PID() }

// Close closes the registry (its databases close, whatever their counts)
// and then the node (remote stops), within ctx; it returns both errors.
func (n *Node) Close(ctx context.Context) error {
	return errors.Join(n.Registry.Close(ctx), n.Node.Close(ctx))
}
