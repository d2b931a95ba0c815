package node

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// DefaultKeepalive is how often an idle connection between nodes is
// pinged; a peer that does not answer within half of it is dropped, so a
// partition is noticed (watches get AddressTerminated) instead of hanging.
const DefaultKeepalive = 10 * time.Second

// Harden returns remote options that keep a node serving whatever its
// peers send, and notice a partition:
//
//   - envelopes naming a message type this binary does not link (which
//     would crash Proto.Actor's deserializer), an unknown serializer, or
//     an out-of-range index are dropped before they reach it; a sender
//     waiting for a reply gets a dead letter at once;
//   - any panic left in the gRPC handlers is recovered and ends only that
//     peer's stream;
//   - connections are kept alive with pings every keepalive (<= 0: none;
//     gRPC pings from the dialling side no more often than every 10 s),
//     and a peer may ping as often as once a second, so nodes configured
//     differently never drop each other's connection;
//   - messages up to MaxMessageSize are accepted, and at most BatchSize
//     messages travel in one (a batch of query results would exceed gRPC's
//     4 MiB default, or Proto.Actor's batch of 1000 any limit).
//
// Every node of a deployment should use it. remote.WithServerOptions and
// WithDialOptions replace earlier ones: add TLS or other gRPC options with
// Config.ServerOptions and Config.DialOptions (Start and StartClient append
// them), or to what HardenOptions returns.
//
// system is the node's actor system (for the dead letters), logger gets a
// warning per dropped envelope. Pass the result to remote.Configure — or
// use Start, which does.
func Harden(system *actor.ActorSystem, logger *slog.Logger, ka time.Duration) []remote.ConfigOption {
	server, dial := HardenOptions(system, logger, ka)
	return []remote.ConfigOption{remote.WithServerOptions(server...), remote.WithDialOptions(dial...),
		remote.WithEndpointWriterBatchSize(BatchSize)}
}

// BatchSize is the most messages Proto.Actor packs into one gRPC message
// on a hardened node (its default is 1000, with no bound on bytes): with
// query results of up to 3 MiB each, a batch stays below MaxMessageSize,
// which the receiving node would otherwise refuse by dropping the
// connection. Pass remote.WithEndpointWriterBatchSize(BatchSize) when
// you use HardenOptions directly.
const BatchSize = 16

// HardenOptions are Harden's gRPC server and dial options, to extend
// before passing them to remote.WithServerOptions and
// remote.WithDialOptions. The dial options hold plaintext transport
// credentials; a grpc.WithTransportCredentials appended after them (TLS)
// takes their place.
func HardenOptions(system *actor.ActorSystem, logger *slog.Logger, ka time.Duration) ([]grpc.ServerOption, []grpc.DialOption) {
	return hardened(system, logger, ka)
}

// MaxMessageSize is the largest gRPC message a hardened node accepts.
// Proto.Actor batches up to 1000 messages into one gRPC message, so
// several query results (each at most 3 MiB) can travel together: gRPC's
// default of 4 MiB would make the receiver drop the whole connection.
const MaxMessageSize = 64 << 20

// minPingInterval is the most often a hardened node lets a peer ping it.
// It does not depend on the node's own Keepalive: nodes configured
// differently must not take each other's pings for abuse and drop the
// connection (gRPC's default allows one ping per 5 minutes).
const minPingInterval = time.Second

func hardened(system *actor.ActorSystem, logger *slog.Logger, ka time.Duration) ([]grpc.ServerOption, []grpc.DialOption) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &guard{system: system, logger: logger}
	server := []grpc.ServerOption{
		grpc.ChainStreamInterceptor(g.stream),
		grpc.ChainUnaryInterceptor(g.unary),
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: minPingInterval, PermitWithoutStream: true}),
	}
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize)),
	}
	if ka > 0 {
		ka = max(ka, 2*minPingInterval)
		server = append(server, grpc.KeepaliveParams(keepalive.ServerParameters{Time: ka, Timeout: ka / 2}))
		dial = append(dial, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: ka, Timeout: ka / 2, PermitWithoutStream: true}))
	}
	return slices.Clip(server), slices.Clip(dial)
}

type guard struct {
	system *actor.ActorSystem
	logger *slog.Logger
}

func (g *guard) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			g.logger.Error("dbactor: remote stream handler panicked; dropping that peer's stream", "panic", fmt.Sprint(r))
			err = status.Errorf(codes.Internal, "dbactor: message handling failed")
		}
	}()
	return h(srv, &filtered{ServerStream: ss, g: g})
}

func (g *guard) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			g.logger.Error("dbactor: remote call handler panicked", "panic", fmt.Sprint(r))
			err = status.Errorf(codes.Internal, "dbactor: call handling failed")
		}
	}()
	return h(ctx, req)
}

// filtered drops, from each batch it receives, the envelopes Proto.Actor
// would crash on.
type filtered struct {
	grpc.ServerStream
	g *guard
}

// RecvMsg implements grpc.ServerStream.
func (s *filtered) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if rm, ok := m.(*remote.RemoteMessage); ok {
		if b := rm.GetMessageBatch(); b != nil {
			s.g.filter(b)
		}
	}
	return nil
}

func (g *guard) filter(b *remote.MessageBatch) {
	kept := b.Envelopes[:0]
	for _, e := range b.GetEnvelopes() {
		if why := g.bad(b, e); why != "" {
			g.drop(b, e, why)
			continue
		}
		kept = append(kept, e)
	}
	clear(b.Envelopes[len(kept):])
	b.Envelopes = kept
}

// bad says what is wrong with an envelope ("" when nothing is).
func (g *guard) bad(b *remote.MessageBatch, e *remote.MessageEnvelope) string {
	switch {
	case e.GetTypeId() < 0 || int(e.GetTypeId()) >= len(b.GetTypeNames()):
		return "type index out of range"
	case e.GetTarget() < 0 || int(e.GetTarget()) >= len(b.GetTargets()) || b.GetTargets()[e.GetTarget()] == nil:
		return "target index out of range"
	case e.GetSender() < 0 || int(e.GetSender()) > len(b.GetSenders()) || (e.GetSender() > 0 && b.GetSenders()[e.GetSender()-1] == nil):
		return "sender index out of range"
	case e.GetSerializerId() != 0:
		// Proto.Actor only ever sends protobuf (serializer 0).
		return fmt.Sprintf("unsupported serializer %d", e.GetSerializerId())
	}
	name := b.GetTypeNames()[e.GetTypeId()]
	if _, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name)); err != nil {
		return "message type not linked into this binary"
	}
	return ""
}

// drop logs a dropped envelope and answers its sender, if any, with a dead
// letter, so a request fails at once instead of at its timeout.
func (g *guard) drop(b *remote.MessageBatch, e *remote.MessageEnvelope, why string) {
	var typeName string
	if i := int(e.GetTypeId()); i >= 0 && i < len(b.GetTypeNames()) {
		typeName = b.GetTypeNames()[i]
	}
	g.logger.Warn("dbactor: dropped a message from another node", "reason", why, "type", typeName)
	if g.system == nil || e.GetSender() <= 0 || int(e.GetSender()) > len(b.GetSenders()) {
		return
	}
	sender := b.GetSenders()[e.GetSender()-1]
	if sender == nil {
		return
	}
	reply := &actor.PID{Address: sender.GetAddress(), Id: sender.GetId(), RequestId: e.GetSenderRequestId()}
	var target *actor.PID
	if i := int(e.GetTarget()); i >= 0 && i < len(b.GetTargets()) {
		target = b.GetTargets()[i]
	}
	g.system.Root.Send(reply, &actor.DeadLetterResponse{Target: target})
}
