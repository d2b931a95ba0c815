package node

import (
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/peer"
	"github.com/dbactor/dbactor/messages"
)

// DefaultKeepalive is how often an idle connection between nodes is
// pinged; a peer that does not answer within half of it is dropped, so a
// partition is noticed (watches get AddressTerminated) instead of hanging.
const DefaultKeepalive = 10 * time.Second

// BatchSize is the most messages Proto.Actor packs into one gRPC message
// on a hardened node (its default is 1000, with no bound on bytes): a
// batch of the largest messages a node sends or accepts (query results and
// requests, each at most MaxRequestSize) stays below MaxMessageSize, which
// the receiving node would otherwise refuse by dropping the connection.
const BatchSize = 16

// DefaultMaxRequestSize is the most bytes one message from an untrusted
// peer may have (Config.MaxRequestSize's default): the most a Client sends
// (client.MaxRequest), and a query result's cap.
const DefaultMaxRequestSize = int(client.MaxRequest)

// envelopeSlack is what Proto.Actor adds around one message in a batch
// (type name, target, sender, header), generously.
const envelopeSlack = 16 << 10

// MaxMessageSize is the largest gRPC message a hardened node accepts: a
// full batch of the largest messages nodes exchange (BatchSize query
// results of at most 3 MiB each), and no more — gRPC's default of 4 MiB
// would drop the connection under a batch of results, a larger limit
// would let a peer make the node buffer more than any reply needs.
const MaxMessageSize = BatchSize * (DefaultMaxRequestSize + envelopeSlack)

// minPingInterval is the most often a hardened node lets a peer ping it.
// It does not depend on the node's own Keepalive: nodes configured
// differently must not take each other's pings for abuse and drop the
// connection (gRPC's default allows one ping per 5 minutes).
const minPingInterval = time.Second

// Harden returns the remote options of a node with cfg's trust boundary,
// for a remote.Configure of your own (a cluster member, say); StartClient
// (and so dbnode.Start) use it. cfg.Host must be the host given to
// remote.Configure. The node then:
//
//   - speaks mutual TLS when cfg has TLS material, and refuses plaintext
//     on a host that is not loopback unless cfg.Insecure is set;
//   - binds every inbound stream to its peer's identity (its verified
//     certificate; "loopback" in plaintext) and to the address that peer
//     proved its own, dropping envelopes whose sender is elsewhere;
//   - keeps untrusted peers (all but cfg.Trusted) to user messages of the
//     protocol to the actors it exports (Node.Export, Node.ExportRegistry;
//     a database node's registry), to answers to its own actors'
//     messages, and to Watch, Unwatch and Terminated about the peer's own
//     actors: Stop, PoisonPill, messages to database actors or the
//     supervisor, and requests to other nodes are dropped, logged once
//     and published (messages.MessageDropped);
//   - authorizes every request to an exported registry with cfg.Policy
//     before any actor sees it (messages.AccessDenied; the sender gets
//     CODE_PERMISSION_DENIED), bounds its deadline (cfg.MaxDeadline) and
//     size (cfg.MaxRequestSize), and stamps who sent it, so the registry
//     tracks every count to its peer;
//   - drops envelopes Proto.Actor would crash on (a type this binary does
//     not link, an unknown serializer, an index out of range), answering
//     a waiting sender with a dead letter at once, and recovers any panic
//     in the gRPC handlers (only that peer's stream ends);
//   - keeps connections alive with pings every cfg.Keepalive, accepts
//     pings from differently configured peers, accepts messages up to
//     MaxMessageSize and sends at most BatchSize messages in one.
//
// Every node of a deployment should use it.
func Harden(system *actor.ActorSystem, cfg Config) ([]remote.ConfigOption, error) {
	_, server, dial, err := harden(system, cfg.withDefaults())
	if err != nil {
		return nil, err
	}
	return []remote.ConfigOption{remote.WithServerOptions(server...), remote.WithDialOptions(dial...),
		remote.WithEndpointWriterBatchSize(BatchSize), remote.WithEndpointWriterQueueSize(writerQueue)}, nil
}

// writerQueue is the initial size of the queue of messages to one peer.
// Proto.Actor's default (a million) allocates 16 MiB per peer address the
// node ever sends to, so every peer that proves an address of its own
// would cost that much; the queue grows when it must.
const writerQueue = 1024

// harden builds the boundary and the gRPC options of cfg (defaults
// applied), and registers the node's exports on system.
func harden(system *actor.ActorSystem, cfg Config) (*boundary, []grpc.ServerOption, []grpc.DialOption, error) {
	t, err := tlsTransport(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if t == nil {
		if err := checkPlaintext(cfg); err != nil {
			return nil, nil, nil, err
		}
	}
	if cfg.MaxRequestSize > DefaultMaxRequestSize {
		return nil, nil, nil, fmt.Errorf("%w: node: MaxRequestSize %d is above %d: a batch of such messages would exceed MaxMessageSize",
			messages.ErrInvalidConfig, cfg.MaxRequestSize, DefaultMaxRequestSize)
	}
	b := &boundary{
		system: system, logger: cfg.Logger, tls: t, insecure: cfg.Insecure, identity: cfg.Identity,
		trusted: map[string]bool{}, policy: cfg.Policy, maxAge: cfg.MaxDeadline, maxSize: cfg.MaxRequestSize,
		verified: map[claimKey]bool{}, logged: map[string]bool{}, probes: make(chan struct{}, maxProbes),
	}
	for _, id := range cfg.Trusted {
		b.trusted[id] = true
	}
	server := []grpc.ServerOption{
		grpc.ChainStreamInterceptor(b.serverStream),
		grpc.ChainUnaryInterceptor(b.unary),
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: minPingInterval, PermitWithoutStream: true}),
	}
	dial := []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize)),
	}
	if ka := cfg.Keepalive; ka > 0 {
		ka = max(ka, 2*minPingInterval)
		server = append(server, grpc.KeepaliveParams(keepalive.ServerParameters{Time: ka, Timeout: ka / 2}))
		dial = append(dial, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: ka, Timeout: ka / 2, PermitWithoutStream: true}))
	}
	// The probe dials with these too; the interceptor and the credentials
	// are Proto.Actor's own connections' alone.
	b.dial = slices.Clone(dial)
	if t == nil {
		// Plaintext by default; credentials in cfg.DialOptions replace it.
		dial = append(dial, grpc.WithTransportCredentials(insecureCreds()))
	}
	server = append(server, cfg.ServerOptions...)
	dial = append(dial, cfg.DialOptions...)
	dial = append(dial, grpc.WithChainStreamInterceptor(b.clientStream))
	if t != nil {
		sc, cc := t.creds()
		server = append(server, grpc.Creds(sc))
		dial = append(dial, grpc.WithTransportCredentials(cc))
	}
	peer.Register(system, exporter{sys: system, x: &b.exports})
	return b, slices.Clip(server), slices.Clip(dial), nil
}
