package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/internal/ops"
	"github.com/dbactor/dbactor/internal/peer"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
)

// Client is a registry reached by messages only: the facade of a node that
// holds no databases. The registry runs on another node (see the node
// package), or in this actor system but spawned with Props. Every call
// crosses the network as a protocol message and is bounded by its ctx
// (else the client's timeout); a call whose registry's node goes away
// meanwhile fails with ErrUnavailable at once.
//
// The counts a Client takes belong to it: the registry watches the
// client's own actor (Owner), and gives back whatever the client still
// holds when that actor stops — Close, a crash of this process, or this
// node losing the registry's node. Safe for use from any goroutine.
type Client struct {
	caller  *request.Caller
	gate    *request.Gate
	resolve func(context.Context) (*actor.PID, error)
	owner   *actor.PID

	mu      sync.Mutex
	watched *actor.PID    // the registry the owner watches
	down    chan struct{} // closed when watched's node went away

	closeOnce sync.Once
	closeErr  error
}

// Option adjusts a Client.
type Option func(*options)

type options struct {
	timeout time.Duration
}

// WithCallTimeout bounds calls whose ctx has no deadline (default
// DefaultTimeout).
func WithCallTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// Attach returns a Client for the registry actor pid: a PID on another
// node (actor.NewPID(address, name)), or a local one. For another node,
// system must run Proto.Actor remote (node.StartClient does) — started
// before Attach, since the client's own actor must be reachable from
// there.
func Attach(system *actor.ActorSystem, pid *actor.PID, opts ...Option) (*Client, error) {
	if pid == nil || pid.GetId() == "" {
		return nil, fmt.Errorf("%w: Attach: no registry PID", ErrInvalidArgument)
	}
	return AttachFunc(system, func(context.Context) (*actor.PID, error) { return pid, nil }, opts...)
}

// AttachFunc returns a Client that asks resolve for the registry's PID on
// every call: for a registry whose place can change, such as a cluster
// kind (node.ClusterClient). An error from resolve fails the call.
func AttachFunc(system *actor.ActorSystem, resolve func(context.Context) (*actor.PID, error), opts ...Option) (*Client, error) {
	if system == nil || resolve == nil {
		return nil, fmt.Errorf("%w: Attach: nil actor system or resolver", ErrInvalidArgument)
	}
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.timeout <= 0 {
		return nil, fmt.Errorf("%w: WithCallTimeout: %v is not positive", ErrInvalidArgument, o.timeout)
	}
	g := &request.Gate{}
	cl := &Client{gate: g, resolve: resolve}
	cl.caller = &request.Caller{System: system, Gates: []*request.Gate{g}, Timeout: o.timeout, Lost: cl.lost}
	cl.owner = system.Root.SpawnPrefix(actor.PropsFromProducer(func() actor.Actor { return &clientActor{cl: cl} }), "dbactor-client")
	return cl, nil
}

// Owner is the client's own actor: the counts the client holds belong to
// it (messages.Connect.owner), and its callback actors are its children.
func (cl *Client) Owner() *actor.PID { return cl.owner }

// pid resolves the registry for one call.
func (cl *Client) pid(ctx context.Context) (*actor.PID, error) {
	pid, err := cl.resolve(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: resolving the registry: %w", ErrUnavailable, err)
	}
	if pid == nil {
		return nil, fmt.Errorf("%w: resolving the registry: no PID", ErrUnavailable)
	}
	return pid, nil
}

// lost is the channel closed when pid's node goes away, watching pid
// first if the owner does not watch it yet (or its node went away before:
// it may be back).
func (cl *Client) lost(pid *actor.PID) <-chan struct{} {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.down != nil && pid.Equal(cl.watched) {
		select {
		case <-cl.down:
		default:
			return cl.down
		}
	}
	cl.watched, cl.down = pid, make(chan struct{})
	cl.caller.System.Root.Send(cl.owner, &watchRegistry{pid: pid})
	return cl.down
}

// nodeLost is called by the owner when the registry it watches terminated.
func (cl *Client) nodeLost(who *actor.PID, why actor.TerminatedReason) {
	if why != actor.TerminatedReason_AddressTerminated {
		return // the registry stopped: calls get ErrClosed from dead letters
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.down != nil && who.Equal(cl.watched) {
		select {
		case <-cl.down:
		default:
			close(cl.down)
		}
	}
}

func (cl *Client) ownerPid() *messages.Pid {
	return &messages.Pid{Address: cl.owner.GetAddress(), Id: cl.owner.GetId()}
}

// MaxRequest is the most bytes one request of a Client may have, encoded:
// what a hardened node accepts from a peer at most (its
// node.DefaultMaxRequestSize is this), and the most a database actor puts
// in one query result. A larger request would be refused there, or break
// the connection: the Client fails it with ErrLimitExceeded, unsent.
const MaxRequest = 3 << 20

// call runs op against the registry. Local actors in handed are handed to
// the registry (callbacks): its node, and only its node, may then send to
// them.
func call[T any](ctx context.Context, cl *Client, op ops.Op[T], handed ...*actor.PID) (T, error) {
	if op.Refused != nil {
		var zero T
		return zero, op.Refused
	}
	if m, ok := op.Build(nil).(proto.Message); ok {
		if n := proto.Size(m); n > MaxRequest {
			return op.Read(nil, fmt.Errorf("%w: the request is %d bytes, more than a node accepts (%d): send less at once", ErrLimitExceeded, n, MaxRequest))
		}
	}
	pid, err := cl.pid(ctx)
	if err != nil {
		return op.Read(nil, err)
	}
	// The registry's node watches the owner and sends events to its
	// callback children: this node's trust boundary lets that node do so.
	sys := cl.caller.System
	peer.Export(sys, cl.owner, true, pid.GetAddress())
	for _, h := range handed {
		peer.Export(sys, h, false, pid.GetAddress())
	}
	read := op.Read
	op.Read = func(reply any, err error) (T, error) {
		if errors.Is(err, request.ErrNoActor) && pid.GetAddress() != sys.Address() && cl.unreachable(ctx, pid) {
			// Proto.Actor answers requests to a node it could not connect
			// to with dead letters, as if the registry did not exist.
			err = fmt.Errorf("%w: %s: %w", ErrUnavailable, pid.GetAddress(), err)
		}
		return read(reply, err)
	}
	return ops.Do(ctx, cl.caller, pid, op)
}

// unreachableGrace is how long a dead letter from another node waits for
// news that the node went away: the two come together when Proto.Actor
// gives up connecting to it.
const unreachableGrace = 250 * time.Millisecond

// unreachable reports whether pid's node is known to have gone away, or
// is within unreachableGrace (bounded by ctx).
func (cl *Client) unreachable(ctx context.Context, pid *actor.PID) bool {
	cl.mu.Lock()
	down := cl.down
	if !pid.Equal(cl.watched) {
		down = nil
	}
	cl.mu.Unlock()
	if down == nil {
		return false
	}
	t := time.NewTimer(unreachableGrace)
	defer t.Stop()
	select {
	case <-down:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// Connect connects every database of the registry, all or nothing (see
// registry.Registry.Connect); the counts belong to this client.
func (cl *Client) Connect(ctx context.Context) error {
	_, err := call(ctx, cl, ops.ConnectAll(cl.ownerPid()))
	return err
}

// Disconnect gives back one registry-wide connect this client holds (see
// registry.Registry.Disconnect). One it does not hold changes nothing.
func (cl *Client) Disconnect(ctx context.Context) error {
	_, err := call(ctx, cl, ops.DisconnectAll(cl.ownerPid()))
	return err
}

// Databases lists the registry's databases and their state: the main
// database first (name ""), then the extras in registry order.
func (cl *Client) Databases(ctx context.Context) ([]Status, error) {
	l, err := call(ctx, cl, ops.List())
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(l))
	for _, s := range l {
		out = append(out, StatusOf(s))
	}
	return out, nil
}

// CreateSchema creates schema on the registry's main database (or those
// OnDatabases names); see registry.Registry.CreateSchema.
func (cl *Client) CreateSchema(ctx context.Context, schema string, opts ...SchemaOption) error {
	_, err := call(ctx, cl, ops.CreateSchema(schema, SchemaOptions(opts...)))
	return err
}

// DropSchema drops schema; see registry.Registry.DropSchema.
func (cl *Client) DropSchema(ctx context.Context, schema string, opts ...SchemaOption) error {
	_, err := call(ctx, cl, ops.DropSchema(schema, SchemaOptions(opts...)))
	return err
}

// RegisterCallback subscribes the actor pid — on this node or any other —
// to registrations of model ("" for every model); see
// registry.Registry.RegisterCallback.
func (cl *Client) RegisterCallback(ctx context.Context, model string, pid *actor.PID, opts ...CallbackOption) error {
	if pid == nil {
		return fmt.Errorf("%w: RegisterCallback: nil PID", ErrInvalidArgument)
	}
	_, err := call(ctx, cl, ops.RegisterCallback(CallbackRequest(model, pid, opts...)), pid)
	return err
}

// RegisterCallbackFunc runs fn, on this node, for model registrations on
// the registry's node: it spawns a callback actor here, as a child of the
// client's own actor, and subscribes it. fn sees one event at a time, in
// order; a panic in fn restarts the actor (that event is lost). The actor
// stops with the client (Close), and the registry then drops its
// callbacks. It returns the actor's PID.
func (cl *Client) RegisterCallbackFunc(ctx context.Context, model string, fn func(*messages.ModelRegistered), opts ...CallbackOption) (*actor.PID, error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: RegisterCallbackFunc: nil func", ErrInvalidArgument)
	}
	if err := cl.caller.Enter(); err != nil {
		return nil, err
	}
	reply, err := request.Request(ctx, cl.caller.System, cl.owner, &spawnClientCallback{props: CallbackProps(fn)}, cl.caller.Timeout)
	cl.caller.Leave()
	if err != nil {
		return nil, fmt.Errorf("dbactor: register callback: %w", request.Err(err))
	}
	pid, ok := reply.(*actor.PID)
	if !ok {
		return nil, request.Unexpected(reply)
	}
	if err := cl.RegisterCallback(ctx, model, pid, opts...); err != nil {
		cl.caller.System.Root.Stop(pid)
		return nil, err
	}
	return pid, nil
}

// Database is the registry's main database.
func (cl *Client) Database() *RemoteDatabase { return &RemoteDatabase{cl: cl} }

// Extra is the registry's extra database called name. The client does not
// know the registry's configuration: a name it lacks fails at the first
// call, with ErrUnknownDatabase.
func (cl *Client) Extra(name string) *RemoteDatabase { return &RemoteDatabase{cl: cl, name: name} }

// Close stops the client's own actor and its callback actors; the
// registry then gives back every count the client still holds and drops
// its callbacks. The registry itself is not closed: no other node may
// close it. Close is idempotent; other calls fail with ErrClosed after it.
func (cl *Client) Close(ctx context.Context) error {
	cl.closeOnce.Do(func() {
		if _, err := cl.gate.Shut(ctx); err != nil {
			cl.closeErr = err
		}
		if err := request.WaitStopped(ctx, cl.caller.System, cl.owner, false); err != nil {
			cl.closeErr = errors.Join(cl.closeErr, fmt.Errorf("dbactor: close client: %w", request.Err(err)))
		}
	})
	return cl.closeErr
}

// String describes the client.
func (cl *Client) String() string {
	return fmt.Sprintf("dbactor.Client{owner=%s}", cl.owner.GetId())
}

// watchRegistry makes the client's actor watch a registry.
type watchRegistry struct{ pid *actor.PID }

// spawnClientCallback asks the client's actor to spawn a callback child.
type spawnClientCallback struct{ props *actor.Props }

// clientActor is a Client's own actor: the owner of its counts, the parent
// of its callback actors, and the watcher of the registry's node.
type clientActor struct {
	cl      *Client
	watched *actor.PID
}

// Receive implements actor.Actor.
func (a *clientActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *watchRegistry:
		if a.watched != nil {
			c.Unwatch(a.watched)
		}
		a.watched = m.pid
		c.Watch(m.pid)
	case *spawnClientCallback:
		c.Respond(c.Spawn(m.props))
	case *actor.Terminated:
		if a.watched != nil && a.watched.Equal(m.GetWho()) {
			a.watched = nil
			if m.GetWhy() == actor.TerminatedReason_AddressTerminated {
				// The registry watches this actor (it tracks our counts)
				// and our callback actors; its node is gone, so they must
				// not tell it when they stop: remote would retry that node
				// for seconds (and leak a gRPC connection per try).
				unwatch := &actor.Unwatch{Watcher: m.GetWho()}
				request.SendSystem(c.ActorSystem(), c.Self(), unwatch)
				for _, child := range c.Children() {
					request.SendSystem(c.ActorSystem(), child, unwatch)
				}
			}
			a.cl.nodeLost(m.GetWho(), m.GetWhy())
		}
	}
}

// RemoteDatabase is one database of a registry reached through a Client.
type RemoteDatabase struct {
	cl       *Client
	name     string
	maxRows  uint32
	maxBytes uint64
}

// Name is the database's name ("" for the main database).
func (d *RemoteDatabase) Name() string { return d.name }

// Connect raises the database's count for this client; true when this
// opened its pool (see registry.Database.Connect).
func (d *RemoteDatabase) Connect(ctx context.Context) (bool, error) {
	return call(ctx, d.cl, ops.Connect(d.name, ops.Target(d.name), d.cl.ownerPid()))
}

// Disconnect gives back one count this client holds on the database; true
// when that closed its pool. One it does not hold changes nothing.
func (d *RemoteDatabase) Disconnect(ctx context.Context) (bool, error) {
	return call(ctx, d.cl, ops.Disconnect(d.name, ops.Target(d.name), false, d.cl.ownerPid()))
}

// Status asks for the database's state.
func (d *RemoteDatabase) Status(ctx context.Context) (Status, error) {
	s, err := call(ctx, d.cl, ops.Status(d.name, ops.Target(d.name)))
	if err != nil {
		return Status{}, err
	}
	return StatusOf(s), nil
}
