package node

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/events"
	"github.com/dbactor/dbactor/internal/peer"
	"github.com/dbactor/dbactor/messages"
)

// The trust boundary sits in gRPC, beneath Proto.Actor's endpoint reader:
// every inbound stream is bound to the identity of the peer that opened
// it (its verified client certificate, or "loopback"), and to the node
// address that peer claims once it has proved that address is its own.
// Each envelope of the stream is then checked before Proto.Actor sees it:
// a sender not on the peer's address, a target on another node, a system
// message, a message to an actor this node does not export, or a request
// the policy does not grant is dropped (a request is answered, so its
// sender does not wait); what passes carries headers the boundary stamped
// itself (internal/peer), overwriting the peer's.

// messagesPackage prefixes the protobuf names of dbactor's protocol.
const messagesPackage = "dbactor.messages.v1."

// The system messages a peer may send (about its own actors), and the
// boundary's bounds.
const (
	typeWatch       = "actor.Watch"
	typeUnwatch     = "actor.Unwatch"
	typeTerminated  = "actor.Terminated"
	typeDeadLetter  = "actor.DeadLetterResponse"
	activatorID     = "activator"
	receiveMethod   = "/remote.Remoting/Receive"
	probeTimeout    = 5 * time.Second
	verifiedMax     = 4096
	sweepEvery      = 1024
	maxProbes       = 16
	maxName         = peer.MaxName
	connectRequired = "the peer sent messages before its connect request"
)

// boundary is one node's trust boundary.
type boundary struct {
	system   *actor.ActorSystem
	logger   *slog.Logger
	tls      *transport // nil: plaintext
	insecure bool
	identity func(*x509.Certificate) string
	trusted  map[string]bool
	policy   Policy
	maxAge   time.Duration // most a peer's deadline may lie ahead
	maxSize  int           // most bytes of one message from a peer
	dial     []grpc.DialOption

	exports exports
	talks   conversations
	watches watches

	mu       sync.Mutex
	verified map[claimKey]bool // claims a probe confirmed
	logged   map[string]bool   // peer|type|reason already logged
	probes   chan struct{}     // a slot per probe under way
}

// isTrusted reports whether identity is one of the node's own (Config.Trusted).
func (b *boundary) isTrusted(identity string) bool {
	return b.trusted["*"] || b.trusted[identity]
}

// stream is one peer's inbound stream.
type stream struct {
	grpc.ServerStream
	b       *boundary
	peer    Peer // Address set once bound
	leaf    *x509.Certificate
	source  net.Addr
	trusted bool
	claim   *remote.ServerConnection
	bound   bool
}

// serverStream is the server's stream interceptor: it identifies the
// peer, then filters what the stream carries.
func (b *boundary) serverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			b.logger.Error("dbactor: remote stream handler panicked; dropping that peer's stream", "panic", fmt.Sprint(r))
			err = status.Errorf(codes.Internal, "dbactor: message handling failed")
		}
	}()
	if info.FullMethod != receiveMethod {
		return status.Errorf(codes.PermissionDenied, "dbactor: unknown stream %s", info.FullMethod)
	}
	s := &stream{ServerStream: ss, b: b}
	if p, ok := grpcpeer.FromContext(ss.Context()); ok {
		s.source = p.Addr
	}
	if err := s.identify(); err != nil {
		b.dropped(Peer{Identity: "?", Address: fmt.Sprint(s.source)}, "", "", err.Error())
		return status.Errorf(codes.PermissionDenied, "dbactor: %v", err)
	}
	s.trusted = b.isTrusted(s.peer.Identity)
	defer func() {
		if s.bound {
			b.unwatchAll(s.peer.Address)
		}
	}()
	return h(srv, s)
}

// unary refuses the unary calls of Proto.Actor's remote service (process
// listings, which it does not implement) to untrusted peers.
func (b *boundary) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			b.logger.Error("dbactor: remote call handler panicked", "panic", fmt.Sprint(r))
			err = status.Errorf(codes.Internal, "dbactor: call handling failed")
		}
	}()
	s := &stream{b: b}
	if p, ok := grpcpeer.FromContext(ctx); ok {
		s.source = p.Addr
		if err := s.identifyPeer(p); err == nil && b.isTrusted(s.peer.Identity) {
			return h(ctx, req)
		}
	}
	return nil, status.Error(codes.PermissionDenied, "dbactor: not for untrusted peers")
}

// identify finds the identity of the stream's peer.
func (s *stream) identify() error {
	p, ok := grpcpeer.FromContext(s.Context())
	if !ok {
		return errors.New("no peer information on the stream")
	}
	return s.identifyPeer(p)
}

func (s *stream) identifyPeer(p *grpcpeer.Peer) error {
	b := s.b
	if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		if len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
			return errors.New("no verified client certificate")
		}
		s.leaf = info.State.VerifiedChains[0][0]
		s.peer.Identity = b.identity(s.leaf)
		if s.peer.Identity == "" {
			return errors.New("the client certificate names no identity (no URI SAN, no common name)")
		}
		return nil
	}
	if b.tls != nil {
		return errors.New("plaintext peer on a TLS node")
	}
	switch ip := ipOf(p.Addr); {
	case ip != nil && ip.IsLoopback():
		s.peer.Identity = LoopbackIdentity
	case b.insecure:
		s.peer.Identity = InsecureIdentity
	default:
		return fmt.Errorf("plaintext peer %v is not on loopback", p.Addr)
	}
	return nil
}

func ipOf(a net.Addr) net.IP {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP
	}
	if a == nil {
		return nil
	}
	return net.ParseIP(hostOf(a.String()))
}

// RecvMsg implements grpc.ServerStream: it reads the peer's next message
// and filters it before Proto.Actor's endpoint reader sees it. An error
// ends the stream.
func (s *stream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	rm, ok := m.(*remote.RemoteMessage)
	if !ok {
		return nil
	}
	switch t := rm.GetMessageType().(type) {
	case *remote.RemoteMessage_ConnectRequest:
		return s.connect(t.ConnectRequest)
	case *remote.RemoteMessage_MessageBatch:
		if err := s.bind(); err != nil {
			return err
		}
		s.b.filter(s, t.MessageBatch)
	}
	return nil
}

// connect checks the address a peer claims in its connect request: its
// certificate must name the host (plaintext: a loopback host, or the
// peer's own IP on an insecure node), so the node never dials a host the
// CA did not vouch for. The claim is proved with the first batch (bind).
func (s *stream) connect(cr *remote.ConnectRequest) error {
	sc := cr.GetServerConnection()
	refuse := func(why string) error {
		addr := ""
		if sc != nil {
			addr = sc.GetAddress()
		}
		s.b.dropped(Peer{Identity: s.peer.Identity, Address: addr}, "", "", why)
		return status.Errorf(codes.PermissionDenied, "dbactor: %s", why)
	}
	switch {
	case sc == nil:
		return refuse("connect request without a node address")
	case s.claim != nil:
		return refuse("second connect request on one stream")
	case len(sc.GetAddress()) > maxName || len(sc.GetSystemId()) > maxName:
		return refuse(fmt.Sprintf("connect request with an address or system id longer than %d bytes", maxName))
	case sc.GetAddress() == s.b.system.Address():
		return refuse("peer claims this node's own address: " + sc.GetAddress())
	}
	host := hostOf(sc.GetAddress())
	switch {
	case host == "":
		return refuse(fmt.Sprintf("claimed address %q is no host:port", sc.GetAddress()))
	case s.leaf != nil:
		if !certCovers(s.leaf, host) {
			return refuse(fmt.Sprintf("peer %q claims address %s, which its certificate does not name", s.peer.Identity, sc.GetAddress()))
		}
	case s.peer.Identity == LoopbackIdentity:
		if !isLoopbackHost(host) {
			return refuse(fmt.Sprintf("loopback peer claims a non-loopback address %s", sc.GetAddress()))
		}
	default: // insecure
		if ip := ipOf(s.source); ip == nil || !ip.Equal(net.ParseIP(host)) {
			return refuse(fmt.Sprintf("insecure peer at %v claims another host's address %s", s.source, sc.GetAddress()))
		}
	}
	s.claim = sc
	return nil
}

// claimKey is a proved address claim, for the cache.
type claimKey struct {
	identity, key, system, address string
}

// bind proves, once per stream, that the node at the claimed address is
// the peer: it connects there as Proto.Actor would and checks that the
// node answering holds the peer's key (the TLS certificate it presents
// there has the public key of the client certificate of the stream; a
// node presents one certificate both ways) and has the actor-system id
// the peer sent. Over TLS, then, a peer can claim only an address where
// its own key answers: not another node's, whatever identity that node
// has. A plaintext peer has no key: any peer of this machine (or, on an
// insecure node, of that host) could claim another's address, since
// Proto.Actor tells every caller its system id — plaintext peers are one
// principal, "loopback" (or "insecure").
func (s *stream) bind() error {
	if s.bound {
		return nil
	}
	b := s.b
	if s.claim == nil {
		b.dropped(s.peer, "", "", connectRequired)
		return status.Error(codes.PermissionDenied, "dbactor: "+connectRequired)
	}
	key := claimKey{identity: s.peer.Identity, system: s.claim.GetSystemId(), address: s.claim.GetAddress()}
	if s.leaf != nil {
		key.key = string(s.leaf.RawSubjectPublicKeyInfo)
	}
	b.mu.Lock()
	ok := b.verified[key]
	b.mu.Unlock()
	if !ok {
		err := b.prove(s, key)
		if err != nil {
			b.dropped(Peer{Identity: s.peer.Identity, Address: s.claim.GetAddress()}, "", "", err.Error())
			return status.Errorf(codes.PermissionDenied, "dbactor: %v", err)
		}
		b.mu.Lock()
		if len(b.verified) >= verifiedMax {
			clear(b.verified)
		}
		b.verified[key] = true
		b.mu.Unlock()
	}
	s.peer.Address = s.claim.GetAddress()
	s.bound = true
	b.watches.open(s.peer.Address)
	return nil
}

// prove runs the probe of a claim, at most maxProbes at once: each holds
// a connection for up to probeTimeout.
func (b *boundary) prove(s *stream, key claimKey) error {
	ctx, cancel := context.WithTimeout(s.Context(), probeTimeout)
	defer cancel()
	select {
	case b.probes <- struct{}{}:
		defer func() { <-b.probes }()
	case <-ctx.Done():
		return fmt.Errorf("peer %q claims address %s: too many claims being checked at once", s.peer.Identity, key.address)
	}
	leaf, system, err := b.probe(ctx, key.address)
	switch {
	case err != nil:
		return fmt.Errorf("peer %q claims address %s, which could not be checked: %w", s.peer.Identity, key.address, err)
	case system == b.system.ID:
		return fmt.Errorf("peer %q claims address %s, where this node answers", s.peer.Identity, key.address)
	case s.leaf != nil && (leaf == nil || string(leaf.RawSubjectPublicKeyInfo) != key.key):
		who := "a node without a certificate"
		if leaf != nil {
			who = fmt.Sprintf("%q, with another key,", b.identity(leaf))
		}
		return fmt.Errorf("peer %q claims address %s, where %s answers", s.peer.Identity, key.address, who)
	case system != key.system:
		return fmt.Errorf("peer %q claims address %s, where another actor system answers", s.peer.Identity, key.address)
	}
	return nil
}

// probe connects to address as a Proto.Actor node does (same transport
// credentials) and returns who answered: the certificate it presented
// (nil in plaintext) and its actor system's id.
func (b *boundary) probe(ctx context.Context, address string) (*x509.Certificate, string, error) {
	rec := &handshakes{}
	opts := append(append([]grpc.DialOption{}, b.dial...), grpc.WithTransportCredentials(rec.wrap(b.clientCreds())))
	// passthrough: the address as given, as grpc.Dial resolved it.
	conn, err := grpc.NewClient("passthrough:///"+address, opts...)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	st, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = st.CloseSend() }()
	err = st.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
		ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{
			SystemId: b.system.ID, Address: b.system.Address()}}}}})
	if err != nil {
		return nil, "", err
	}
	resp, err := st.Recv()
	if err != nil {
		return nil, "", err
	}
	cr := resp.GetConnectResponse()
	if cr == nil {
		return nil, "", errors.New("no connect response")
	}
	return rec.leaf(), cr.GetMemberId(), nil
}

// clientCreds are the transport credentials the node dials with.
func (b *boundary) clientCreds() credentials.TransportCredentials {
	if b.tls != nil {
		_, c := b.tls.creds()
		return c
	}
	return insecureCreds()
}

// filter drops from a batch what the peer may not send, and stamps the
// rest with the peer's identity.
func (b *boundary) filter(s *stream, batch *remote.MessageBatch) {
	kept := batch.Envelopes[:0]
	for _, e := range batch.GetEnvelopes() {
		if why := structural(batch, e); why != "" {
			b.drop(s, batch, e, why, nil)
			continue
		}
		if why, reply := b.admit(s, batch, e); why != "" {
			b.drop(s, batch, e, why, reply)
			continue
		}
		kept = append(kept, e)
	}
	clear(batch.Envelopes[len(kept):])
	batch.Envelopes = kept
}

// structural says what would make Proto.Actor's reader crash or fail on an
// envelope ("" when nothing).
func structural(b *remote.MessageBatch, e *remote.MessageEnvelope) string {
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
	if _, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(b.GetTypeNames()[e.GetTypeId()])); err != nil {
		return "message type not linked into this binary"
	}
	return ""
}

// refusal is why a request was refused, with the reply its sender gets.
type refusal struct {
	reply  any
	denied *messages.AccessDenied // set for a policy refusal
}

// admit decides about one well-formed envelope; why is "" when it may
// pass (stamped). A reason is a fixed text, then ": " and details the
// peer chose (logged once per fixed text).
func (b *boundary) admit(s *stream, batch *remote.MessageBatch, e *remote.MessageEnvelope) (why string, r *refusal) {
	if sender := senderOf(batch, e); sender != nil && sender.GetAddress() != s.peer.Address {
		return fmt.Sprintf("sender not on the peer's address %s: %s/%s", s.peer.Address, sender.GetAddress(), sender.GetId()), nil
	}
	target := batch.GetTargets()[e.GetTarget()]
	if target.GetAddress() != b.system.Address() {
		return fmt.Sprintf("target on another node: %s/%s", target.GetAddress(), target.GetId()), nil
	}
	typeName := batch.GetTypeNames()[e.GetTypeId()]
	p := peer.Peer{Identity: s.peer.Identity, Address: s.peer.Address, Write: s.trusted, Trusted: s.trusted}
	kind := b.exports.lookup(target.GetId(), s.peer.Address)
	reachable := kind != exportNone || b.talks.has(target.GetId(), s.peer.Address)
	switch typeName {
	case typeWatch, typeUnwatch:
		return b.watch(s, e, typeName, target, reachable), nil
	}
	if s.trusted {
		stamp(e, p, true)
		return "", nil
	}
	switch typeName {
	case typeTerminated:
		m := &actor.Terminated{}
		switch {
		case proto.Unmarshal(e.GetMessageData(), m) != nil:
			return "undecodable " + typeName, nil
		case m.GetWho().GetAddress() != s.peer.Address:
			return "Terminated about an actor that is not on the peer's node: " + m.GetWho().GetAddress(), nil
		case !reachable:
			return "Terminated for an actor this node does not export to the peer: " + target.GetId(), nil
		}
		return "", nil
	case typeDeadLetter:
		if !reachable {
			return "message to an actor this node does not export to the peer: " + target.GetId(), nil
		}
		stamp(e, p, false)
		return "", nil
	}
	if !strings.HasPrefix(typeName, messagesPackage) {
		return "message type not accepted from untrusted peers: " + typeName, nil
	}
	switch {
	case kind == exportRegistry:
		if why, r := b.request(s, e, typeName, &p); why != "" {
			return why, r
		}
	case requestTypes[typeName]:
		// Requests go to exported registries only, where the policy sees
		// them: not to an actor a peer may merely answer (a registry that
		// sent it events is one).
		return "request to an actor that is no exported registry: " + target.GetId(), nil
	case !reachable:
		return "message to an actor this node does not export to the peer: " + target.GetId(), nil
	}
	stamp(e, p, false)
	return "", nil
}

// watch decides about a Watch or Unwatch: the watcher must be the peer's
// own actor (else this node would tell, and dial, another node), the
// watched actor one the peer may address (or the activator, which every
// node watches to learn of its peers' end), and an untrusted peer's
// watches are bounded. Every admitted watch is undone when the peer's
// last stream ends.
func (b *boundary) watch(s *stream, e *remote.MessageEnvelope, typeName string, target *actor.PID, reachable bool) string {
	var watcher *actor.PID
	if typeName == typeWatch {
		m := &actor.Watch{}
		if proto.Unmarshal(e.GetMessageData(), m) != nil {
			return "undecodable " + typeName
		}
		watcher = m.GetWatcher()
	} else {
		m := &actor.Unwatch{}
		if proto.Unmarshal(e.GetMessageData(), m) != nil {
			return "undecodable " + typeName
		}
		watcher = m.GetWatcher()
	}
	switch {
	case watcher.GetAddress() != s.peer.Address:
		return "watcher is not an actor of the peer's node: " + watcher.GetAddress()
	case len(watcher.GetId()) > maxName:
		return fmt.Sprintf("watcher id longer than %d bytes", maxName)
	case !s.trusted && target.GetId() != activatorID && !reachable:
		return "watch of an actor this node does not export to the peer: " + target.GetId()
	}
	w := watch{target: target.GetId(), watcher: watcher.GetId()}
	if typeName == typeUnwatch {
		b.watches.remove(s.peer.Address, w)
		return ""
	}
	limit := MaxWatchesPerPeer
	if s.trusted {
		limit = 0
	}
	if !b.watches.add(s.peer.Address, w, limit) {
		return fmt.Sprintf("the peer watches %d actors here already, the most it may", MaxWatchesPerPeer)
	}
	return ""
}

// unwatchAll undoes the watches a peer that went away made.
func (b *boundary) unwatchAll(address string) {
	for _, w := range b.watches.close(address) {
		if ref, ok := b.system.ProcessRegistry.GetLocal(w.target); ok {
			ref.SendSystemMessage(actor.NewPID(b.system.Address(), w.target), &actor.Unwatch{Watcher: actor.NewPID(address, w.watcher)})
		}
	}
}

// request checks a message to an exported registry: its size, the
// actors it names, the policy, its deadline.
func (b *boundary) request(s *stream, e *remote.MessageEnvelope, typeName string, p *peer.Peer) (string, *refusal) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(typeName))
	if err != nil {
		return "message type not linked into this binary", nil
	}
	msg := mt.New().Interface()
	if n := len(e.GetMessageData()); n > b.maxSize {
		why := fmt.Sprintf("%s of %d bytes, more than the node's MaxRequestSize (%d)", typeName, n, b.maxSize)
		return why, &refusal{reply: messages.FailedReply(msg, &messages.Error{Code: messages.Code_CODE_LIMIT_EXCEEDED, Message: "dbactor: " + why})}
	}
	if err := proto.Unmarshal(e.GetMessageData(), msg); err != nil {
		why := "undecodable " + typeName
		return why, &refusal{reply: messages.FailedReply(msg, &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Message: "dbactor: " + why})}
	}
	req, isRequest := classify(msg)
	if !isRequest {
		return "", nil // replies and events: the registry ignores them
	}
	deny := func(why string) (string, *refusal) {
		db := "*"
		if len(req.Databases) > 0 {
			db = req.Databases[0]
		}
		return why, &refusal{
			reply:  messages.FailedReply(msg, &messages.Error{Code: messages.Code_CODE_PERMISSION_DENIED, Database: db, Message: "dbactor: permission denied: " + why}),
			denied: &messages.AccessDenied{Peer: s.peer.Identity, Address: s.peer.Address, Op: req.Op.String(), Database: db, MessageType: typeName, Reason: why},
		}
	}
	if err := validate(s.peer, msg); err != nil {
		return deny(err.Error())
	}
	d := b.policy.decide(s.peer, req)
	if !d.allowed {
		return deny(d.reason)
	}
	p.Write, p.Role = d.write, d.role
	if clampDeadline(msg, time.Now().Add(b.maxAge)) {
		if data, err := proto.Marshal(msg); err == nil {
			e.MessageData = data
		}
	}
	return "", nil
}

// clampDeadline sets a request's deadline to limit when it has none or a
// later one; it reports whether it changed it. Every request with a
// deadline calls its field "deadline".
func clampDeadline(msg proto.Message, limit time.Time) bool {
	r := msg.ProtoReflect()
	f := r.Descriptor().Fields().ByName("deadline")
	if f == nil || f.Message() == nil || f.Message().FullName() != "google.protobuf.Timestamp" {
		return false
	}
	if r.Has(f) {
		ts, ok := r.Get(f).Message().Interface().(*timestamppb.Timestamp)
		// An invalid one is the registry's to refuse: leave it.
		if !ok || !ts.IsValid() || !ts.AsTime().After(limit) {
			return false
		}
	}
	r.Set(f, protoreflect.ValueOfMessage(timestamppb.New(limit).ProtoReflect()))
	return true
}

// stamp replaces an admitted envelope's header with the boundary's. A
// trusted peer keeps its own keys (a cluster member's, say), with ours
// overwritten.
func stamp(e *remote.MessageEnvelope, p peer.Peer, keep bool) {
	h := p.Header()
	if keep && e.GetMessageHeader() != nil {
		own := e.GetMessageHeader().GetHeaderData()
		for _, k := range []string{peer.HeaderIdentity, peer.HeaderAddress, peer.HeaderAccess, peer.HeaderRole, peer.HeaderTrusted} {
			delete(own, k)
		}
		for k, v := range own {
			h[k] = v
		}
	}
	e.MessageHeader = &remote.MessageHeader{HeaderData: h}
}

// senderOf is an envelope's sender; nil when it has none, or its index
// is out of range (a broken envelope).
func senderOf(b *remote.MessageBatch, e *remote.MessageEnvelope) *actor.PID {
	if i := int(e.GetSender()); i > 0 && i <= len(b.GetSenders()) {
		return b.GetSenders()[i-1]
	}
	return nil
}

// drop reports a dropped envelope, and answers its sender (if any) so a
// request fails at once instead of at its timeout: with r's reply, else a
// dead letter.
func (b *boundary) drop(s *stream, batch *remote.MessageBatch, e *remote.MessageEnvelope, why string, r *refusal) {
	var typeName, target string
	if i := int(e.GetTypeId()); i >= 0 && i < len(batch.GetTypeNames()) {
		typeName = batch.GetTypeNames()[i]
	}
	var targetPID *actor.PID
	if i := int(e.GetTarget()); i >= 0 && i < len(batch.GetTargets()) {
		targetPID = batch.GetTargets()[i]
		target = targetPID.GetId()
	}
	if r != nil && r.denied != nil {
		b.denied(r.denied)
	} else {
		b.dropped(s.peer, typeName, target, why)
	}
	sender := senderOf(batch, e)
	if sender == nil || sender.GetAddress() != s.peer.Address {
		return // never answer an address the peer does not own
	}
	reply := &actor.PID{Address: sender.GetAddress(), Id: sender.GetId(), RequestId: e.GetSenderRequestId()}
	var msg any = &actor.DeadLetterResponse{Target: targetPID}
	if r != nil && r.reply != nil {
		msg = r.reply
	}
	b.system.Root.Send(reply, msg)
}

// dropped logs (once per peer, type and reason) and publishes a
// MessageDropped event.
func (b *boundary) dropped(p Peer, typeName, target, why string) {
	// What the peer chose is cut short: events and logs must not carry
	// (or keep) megabytes a peer sent.
	typeName, target, why = clip(typeName), clip(target), clip(why)
	fixed, _, _ := strings.Cut(why, ": ")
	if b.once(clip(p.Identity) + "|" + typeName + "|" + fixed) {
		b.logger.Warn("dbactor: node: dropped a message from a peer", "peer", p.Identity, "address", p.Address,
			"type", typeName, "target", target, "reason", why)
	}
	events.Publish(b.system, nil, b.logger, nil, &messages.MessageDropped{
		Peer: p.Identity, Address: p.Address, MessageType: typeName, Target: target, Reason: why})
}

// denied logs (once per peer, operation and database) and publishes an
// AccessDenied event.
func (b *boundary) denied(ev *messages.AccessDenied) {
	ev.Database, ev.Reason = clip(ev.GetDatabase()), clip(ev.GetReason())
	if b.once(clip(ev.GetPeer()) + "|" + ev.GetOp() + "|" + ev.GetDatabase() + "|denied") {
		b.logger.Warn("dbactor: node: refused a peer's request", "peer", ev.GetPeer(), "address", ev.GetAddress(),
			"op", ev.GetOp(), "database", ev.GetDatabase(), "type", ev.GetMessageType(), "reason", ev.GetReason())
	}
	events.Publish(b.system, nil, b.logger, nil, ev)
}

// clip cuts a peer-chosen text short for the node to keep.
func clip(s string) string { return peer.Clip(s) }

// once reports whether key is new (and remembers it, up to a bound).
func (b *boundary) once(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.logged[key] {
		return false
	}
	if len(b.logged) >= verifiedMax {
		clear(b.logged) // log again rather than grow for ever
	}
	b.logged[key] = true
	return true
}

// clientStream is the dial side's stream interceptor: it notes which
// local actors sent messages to which node, so that node's answers to
// them are let through (conversations).
func (b *boundary) clientStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &outStream{ClientStream: cs, b: b, address: cc.Target()}, nil
}

type outStream struct {
	grpc.ClientStream
	b       *boundary
	address string
}

// SendMsg implements grpc.ClientStream.
func (o *outStream) SendMsg(m any) error {
	if rm, ok := m.(*remote.RemoteMessage); ok {
		if batch := rm.GetMessageBatch(); batch != nil {
			local := o.b.system.Address()
			for _, s := range batch.GetSenders() {
				if s.GetAddress() == local {
					o.b.talks.add(o.b.system, s.GetId(), o.address)
				}
			}
		}
	}
	return o.ClientStream.SendMsg(m)
}
