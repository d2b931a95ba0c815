package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"

	"github.com/dbactor/dbactor/client"
)

// DefaultName is the name a database node (dbnode.Start) spawns its
// registry under, and the name RegistryPID and Attach default to.
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
	// Name is the registry actor's name on a database node (dbnode.Start);
	// default DefaultName. Clients address it as RegistryPID(address, Name).
	Name string
	// Logger receives the node's and Proto.Actor's logs; nil discards them
	// (a database node's registry then logs to slog.Default(), see
	// registry.WithLogger).
	Logger *slog.Logger
	// Keepalive is the ping interval of idle connections between nodes
	// (see Harden); 0 means DefaultKeepalive, negative none.
	Keepalive time.Duration
	// TLS is the node's mutual TLS: its certificate (Certificates) and
	// the CA pool every node's certificate is checked against (RootCAs or
	// ClientCAs; one serves both directions). The node presents its
	// certificate when it dials and when it accepts, and requires and
	// verifies its peers' in both directions. Nil, and no files below:
	// plaintext, which StartClient and dbnode.Start allow on loopback
	// only.
	TLS *tls.Config
	// CertFile, KeyFile and CAFile give the same as PEM files: the node's
	// certificate, its private key, and the CA's certificate(s). Not
	// together with TLS.
	CertFile, KeyFile, CAFile string
	// Insecure allows plaintext on a host that is not loopback. Peers
	// are then unauthenticated (identity InsecureIdentity) and may claim
	// only their own IP; the traffic is readable on the way. Only for a
	// network you trust to do what TLS would.
	Insecure bool
	// Identity names a peer from its verified certificate; nil means
	// DefaultIdentity (first URI SAN, else common name). An empty name
	// refuses the peer.
	Identity func(*x509.Certificate) string
	// Trusted are the identities treated as this node's own, such as the
	// members of one cluster: the untrusted mode and the policy do not
	// apply to them (they are still bound to their identity and
	// address, and their counts tracked). "*" trusts every peer.
	Trusted []string
	// Policy says what untrusted peers may do; the zero value lets them
	// keep databases open and follow model registrations (OpDefault).
	Policy Policy
	// MaxDeadline is the furthest ahead a peer's request may set its
	// deadline; a later one, or none, is set to now+MaxDeadline. 0 means
	// client.DefaultTimeout (the registry's default timeout too), or the
	// registry's Config.Timeout when dbnode.Start is given a longer one.
	MaxDeadline time.Duration
	// MaxRequestSize is the most bytes one message from an untrusted
	// peer may have; larger requests are answered CODE_LIMIT_EXCEEDED.
	// 0 means DefaultMaxRequestSize, which is also the most allowed.
	MaxRequestSize int
	// ServerOptions and DialOptions are appended to Harden's gRPC options:
	// interceptors of your own. Give TLS with the fields above, not here:
	// the trust boundary must know it.
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
	if c.Identity == nil {
		c.Identity = DefaultIdentity
	}
	if c.MaxDeadline <= 0 {
		c.MaxDeadline = client.DefaultTimeout
	}
	if c.MaxRequestSize <= 0 {
		c.MaxRequestSize = DefaultMaxRequestSize
	}
	return c
}

// Node is an actor system on the network: Proto.Actor remote, hardened
// (see Harden). StartClient starts one that hosts no databases; a database
// node (package node/dbnode) is one with a registry.
type Node struct {
	// System is the node's actor system; remote runs on it.
	System *actor.ActorSystem
	// Remote is Proto.Actor's remote of the node.
	Remote   *remote.Remote
	cfg      Config
	boundary *boundary
}

// StartClient starts a node: an actor system with remote (hardened, see
// Harden) on cfg's address, hosting nothing. Attach reaches registries
// from it; dbnode.Start hosts a registry on one. A port already in use,
// incomplete TLS material, or plaintext on a host that is not loopback
// (ErrInsecure) is an error; nothing is left running then.
func StartClient(cfg Config) (*Node, error) {
	return startRemote(cfg.withDefaults())
}

func startRemote(cfg Config) (n *Node, err error) {
	// Proto.Actor's own logs go to cfg.Logger (withDefaults: never nil),
	// not to its default coloured stderr handler.
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return cfg.Logger }))
	b, server, dial, err := harden(sys, cfg)
	if err != nil {
		return nil, err
	}
	opts := append([]remote.ConfigOption{
		remote.WithServerOptions(append(server, cfg.ServerOptions...)...),
		remote.WithDialOptions(append(dial, cfg.DialOptions...)...),
		remote.WithEndpointWriterBatchSize(BatchSize),
		remote.WithEndpointWriterQueueSize(writerQueue),
	}, cfg.Remote...)
	if cfg.AdvertisedHost != "" {
		opts = append(opts, remote.WithAdvertisedHost(cfg.AdvertisedHost))
	}
	r := remote.NewRemote(sys, remote.Configure(cfg.Host, cfg.Port, opts...))
	defer func() {
		// remote.Start panics when it cannot listen.
		if p := recover(); p != nil {
			sys.Shutdown()
			n, err = nil, fmt.Errorf("%w: starting remote on %s:%d: %v", client.ErrUnavailable, cfg.Host, cfg.Port, p)
		}
	}()
	r.Start()
	return &Node{System: sys, Remote: r, cfg: cfg, boundary: b}, nil
}

// Export lets every peer address pid, an actor of this node: user
// messages of the protocol, and Watch. With subtree, its descendants too.
// The actors a Client hands to a registry on another node (its own actor
// and callback actors, the actors given to Client.RegisterCallback) are
// exported already, to that registry's node only: export by hand only
// what no Client hands over, such as an actor other nodes look up by name.
func (n *Node) Export(pid *actor.PID, subtree bool) {
	n.boundary.exports.add(n.System, pid.GetId(), exportActor, subtree, "")
}

// ExportRegistry lets peers send requests to pid, a registry actor of
// this node, each authorized by the node's Policy. dbnode.Start exports
// the registry it spawns; export one of your own (spawned with
// registry.Props, say) with it.
func (n *Node) ExportRegistry(pid *actor.PID) {
	n.boundary.exports.add(n.System, pid.GetId(), exportRegistry, false, "")
}

// Address is the node's host:port, as other nodes reach it.
func (n *Node) Address() string { return n.System.Address() }

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
func (n *Node) Attach(address, name string, opts ...client.Option) (*client.Client, error) {
	return client.Attach(n.System, RegistryPID(address, name), opts...)
}

// Close stops remote gracefully, within ctx: it can take long when a peer
// is unreachable (Proto.Actor retries the connection), so it returns when
// ctx is done and finishes in the background after that. It closes no
// registry: a database node's Close (dbnode.Node.Close) closes its
// registry first.
func (n *Node) Close(ctx context.Context) error {
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
