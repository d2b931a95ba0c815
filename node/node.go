package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"

	"github.com/dbactor/dbactor/registry"
)

// DefaultName is the name a database node spawns its registry under.
const DefaultName = "dbactor"

// Config configures a node's network side.
type Config struct {
	// Host to listen on; default "127.0.0.1".
	Host string
	// Port to listen on; 0 picks a free one (see Node.Address).
	Port int
	// AdvertisedHost is the host:port other nodes reach this one at, when
	// it differs from the listening address (NAT, containers).
	AdvertisedHost string
	// Name is the registry actor's name on a database node; default
	// DefaultName. Clients address it as RegistryPID(address, Name).
	Name string
	// Logger receives the node's and Proto.Actor's logs; nil discards them.
	Logger *slog.Logger
	// Keepalive is the ping interval of idle connections between nodes
	// (see Harden); 0 means DefaultKeepalive, negative none.
	Keepalive time.Duration
	// ServerOptions and DialOptions are appended to Harden's gRPC options:
	// TLS (grpc.Creds; grpc.WithTransportCredentials, which takes the
	// place of the plaintext default), interceptors of your own.
	ServerOptions []grpc.ServerOption
	DialOptions   []grpc.DialOption
	// Remote adds other remote options (batch and queue sizes). A
	// remote.WithServerOptions or WithDialOptions here would replace
	// Harden's (and ServerOptions/DialOptions): use those fields instead.
	Remote []remote.ConfigOption
}

func (c Config) withDefaults() Config {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Keepalive == 0 {
		c.Keepalive = DefaultKeepalive
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Node is an actor system on the network: a database node, hosting a
// registry, or a client node.
type Node struct {
	// System is the node's actor system; remote runs on it.
	System *actor.ActorSystem
	// Remote is Proto.Actor's remote of the node.
	Remote *remote.Remote
	// Registry is the registry a database node hosts; nil on a client node.
	Registry *registry.Registry
	cfg      Config
}

// Start starts a database node: an actor system, remote on cfg's address
// (hardened, see Harden), and then — so that its PID is usable from other
// nodes — a registry for reg under cfg.Name. It connects nothing: clients
// (or the node itself) connect. A port already in use, or an invalid reg,
// is an error; nothing is left running then.
func Start(cfg Config, reg registry.Config, opts ...registry.Option) (*Node, error) {
	cfg = cfg.withDefaults()
	n, err := startRemote(cfg)
	if err != nil {
		return nil, err
	}
	opts = append([]registry.Option{registry.WithLogger(cfg.Logger), registry.WithName(cfg.Name)}, opts...)
	r, err := registry.New(n.System, reg, opts...)
	if err != nil {
		n.stopRemote(context.Background())
		return nil, err
	}
	n.Registry = r
	return n, nil
}

// StartClient starts a node without databases: an actor system with remote
// (hardened) on cfg's address. Attach reaches registries from it.
func StartClient(cfg Config) (*Node, error) {
	return startRemote(cfg.withDefaults())
}

func startRemote(cfg Config) (n *Node, err error) {
	sys := registry.NewActorSystem(cfg.Logger)
	server, dial := HardenOptions(sys, cfg.Logger, cfg.Keepalive)
	opts := append([]remote.ConfigOption{
		remote.WithServerOptions(append(server, cfg.ServerOptions...)...),
		remote.WithDialOptions(append(dial, cfg.DialOptions...)...),
		remote.WithEndpointWriterBatchSize(BatchSize),
	}, cfg.Remote...)
	if cfg.AdvertisedHost != "" {
		opts = append(opts, remote.WithAdvertisedHost(cfg.AdvertisedHost))
	}
	r := remote.NewRemote(sys, remote.Configure(cfg.Host, cfg.Port, opts...))
	defer func() {
		// remote.Start panics when it cannot listen.
		if p := recover(); p != nil {
			sys.Shutdown()
			n, err = nil, fmt.Errorf("%w: starting remote on %s:%d: %v", registry.ErrUnavailable, cfg.Host, cfg.Port, p)
		}
	}()
	r.Start()
	return &Node{System: sys, Remote: r, cfg: cfg}, nil
}

// Address is the node's host:port, as other nodes reach it.
func (n *Node) Address() string { return n.System.Address() }

// PID is the registry actor of a database node (nil on a client node).
func (n *Node) PID() *actor.PID {
	if n.Registry == nil {
		return nil
	}
	return n.Registry.PID()
}

// RegistryPID is the PID of the registry called name on the node at
// address (host:port).
func RegistryPID(address, name string) *actor.PID {
	if name == "" {
		name = DefaultName
	}
	return actor.NewPID(address, name)
}

// Attach returns a client for the registry called name ("": DefaultName)
// on the node at address.
func (n *Node) Attach(address, name string, opts ...registry.ClientOption) (*registry.Client, error) {
	return registry.Attach(n.System, RegistryPID(address, name), opts...)
}

// Close closes the node's registry (if any: its databases close, whatever
// their counts) and then stops remote, within ctx.
func (n *Node) Close(ctx context.Context) error {
	var errs []error
	if n.Registry != nil {
		errs = append(errs, n.Registry.Close(ctx))
	}
	errs = append(errs, n.stopRemote(ctx))
	return errors.Join(errs...)
}

// stopRemote shuts remote down gracefully; it can take long when a peer
// is unreachable (Proto.Actor retries the connection), so it is bounded by
// ctx and finishes in the background after that.
func (n *Node) stopRemote(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			// Proto.Actor's graceful shutdown can panic ("send on closed
			// channel") when a peer's connection ends at the same moment.
			if r := recover(); r != nil {
				n.cfg.Logger.Error("dbactor: node: Proto.Actor panicked while stopping remote", "panic", fmt.Sprint(r))
				done <- fmt.Errorf("dbactor: node: stopping remote: Proto.Actor panicked: %v", r)
			}
			close(done)
		}()
		n.Remote.Shutdown(true)
		n.System.Shutdown()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("dbactor: node: stopping remote: %w", context.Cause(ctx))
	}
}
