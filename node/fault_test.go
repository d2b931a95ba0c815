package node_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/registry"
)

// blackhole is a TCP server that accepts connections and never answers:
// a database whose connect hangs. Accepted is told each connection.
type blackhole struct {
	ln       net.Listener
	accepted chan struct{}
	mu       sync.Mutex
	conns    []net.Conn
	done     chan struct{}
}

func newBlackhole(t *testing.T) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &blackhole{ln: ln, accepted: make(chan struct{}, 16), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			b.accepted <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-b.done
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			_ = c.Close()
		}
	})
	return b
}

// TestKilledDatabaseNode: calls to a database node that dies fail with a
// typed error, never hang: a call in flight fails with ErrUnavailable as
// soon as the node is known gone, well before its deadline; a later call
// fails with ErrUnavailable or ErrTimeout by its deadline. Closing the
// client and its node afterwards is prompt.
func TestKilledDatabaseNode(t *testing.T) {
	t.Run("connect in flight", func(t *testing.T) {
		if !testnode.Isolate(t) {
			return
		}
		// The "slow" extra's server accepts and never answers: connecting
		// it stays in flight until the child dies.
		bh := newBlackhole(t)
		slow := fmt.Sprintf("postgres://app@%s/app?sslmode=disable", bh.ln.Addr())
		child, addr := startDBChild(t, envDSN+"="+sqliteDSN(t.TempDir(), "main"), envSlowDSN+"="+slow)
		n, closeNode := startClientNode(t)
		cl := attach(t, n, addr)
		inFlight(t, child, cl, func(ctx context.Context) error {
			_, err := cl.Extra(slowName).Connect(ctx)
			return err
		}, func() { receive(t, bh.accepted, 10*time.Second, "the child's connection to the slow database") })

		// New calls: the node is gone (Proto.Actor retries reaching it for
		// 10 s before it says so); their deadline bounds them.
		for _, c := range []struct {
			name string
			call func(context.Context) error
		}{
			{"status", func(ctx context.Context) error { _, err := cl.Database().Status(ctx); return err }},
			{"connect", func(ctx context.Context) error { return cl.Connect(ctx) }},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			start := time.Now()
			err := c.call(ctx)
			cancel()
			took := time.Since(start)
			t.Logf("%s with a 2 s deadline after the node died: failed in %v: %v", c.name, took.Round(time.Millisecond), err)
			require.Error(t, err)
			require.True(t, errors.Is(err, client.ErrUnavailable) || errors.Is(err, registry.ErrTimeout), "%v", err)
			require.Less(t, took, 2500*time.Millisecond)
		}

		// A connect that gave up keeps listening for a late reply (to undo
		// it) until its deadline and 5 s more: Close waits for that.
		start := time.Now()
		require.NoError(t, cl.Close(testCtx(t, 30*time.Second)))
		t.Logf("client closed in %v", time.Since(start).Round(time.Millisecond))
		closeNode()
	})

	t.Run("query in flight", func(t *testing.T) {
		if !testnode.Isolate(t) {
			return
		}
		dsn := testdb.NewPostgresDatabase(t)
		child, addr := startDBChild(t, envDSN+"="+dsn)
		n, closeNode := startClientNode(t)
		cl := attach(t, n, addr)
		inFlight(t, child, cl, func(ctx context.Context) error {
			_, err := cl.Database().Query(ctx, "SELECT pg_sleep(5)")
			return err
		}, func() {
			// No event tells that the server runs the statement: ask it.
			conn, err := pgx.Connect(context.Background(), dsn)
			require.NoError(t, err)
			defer func() { _ = conn.Close(context.Background()) }()
			require.Eventually(t, func() bool {
				var n int
				err := conn.QueryRow(context.Background(),
					`SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'`).Scan(&n)
				return err == nil && n == 1
			}, 10*time.Second, 20*time.Millisecond)
		})

		// Nothing was sent to the dead node since: closing the client and
		// the node must not contact it (a message to a dead node makes
		// Proto.Actor's remote dial it 5 times, 2 s apart, and leak a gRPC
		// connection per try — Close would take 10 s, goleak would fail).
		start := time.Now()
		require.NoError(t, cl.Close(testCtx(t, 30*time.Second)))
		t.Logf("client closed in %v", time.Since(start).Round(time.Millisecond))
		start = time.Now()
		closeNode()
		took := time.Since(start)
		require.Less(t, took, 5*time.Second,
			"closing a client node after its registry's node died: the client's actor still tells the dead registry it stopped (registry/client.go clientActor)")
	})
}

// inFlight connects the main database through cl, starts call with a 4 s
// deadline, waits until running says it runs on the server, SIGKILLs the
// database node and checks call fails fast with ErrUnavailable.
func inFlight(t *testing.T, child *testnode.Child, cl *client.Client, call func(context.Context) error, running func()) {
	ctx := testCtx(t, time.Minute)
	opened, err := cl.Database().Connect(ctx)
	require.NoError(t, err)
	require.True(t, opened)

	type result struct {
		err error
		at  time.Time
	}
	res := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		err := call(ctx)
		res <- result{err, time.Now()}
	}()
	running()

	killed := time.Now()
	child.Kill()
	r := receive(t, res, 10*time.Second, "the in-flight call's result")
	took := r.at.Sub(killed)
	t.Logf("in-flight call failed %v after SIGKILL (its deadline was 4 s away): %v", took.Round(time.Microsecond), r.err)
	require.ErrorIs(t, r.err, client.ErrUnavailable)
	require.Less(t, took, 2*time.Second, "the call must fail when the node is known gone, not at its deadline")
}

var (
	unknownOnce sync.Once
	unknownType protoreflect.MessageType
)

// unknownMessage is a message of type dbactor.test.v1.Unknown, built at
// run time and registered in this process only: the child role never
// runs this, so its binary does not know the type.
func unknownMessage(t *testing.T, payload string) proto.Message {
	unknownOnce.Do(func() {
		fdp := &descriptorpb.FileDescriptorProto{
			Name:    proto.String("dbactor/test/v1/unknown.proto"),
			Package: proto.String("dbactor.test.v1"),
			Syntax:  proto.String("proto3"),
			MessageType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("Unknown"),
				Field: []*descriptorpb.FieldDescriptorProto{{
					Name:     proto.String("payload"),
					JsonName: proto.String("payload"),
					Number:   proto.Int32(1),
					Type:     descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
					Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
				}},
			}},
		}
		fd, err := protodesc.NewFile(fdp, nil)
		if err != nil {
			panic(err)
		}
		mt := dynamicpb.NewMessageType(fd.Messages().ByName("Unknown"))
		if err := protoregistry.GlobalTypes.RegisterMessage(mt); err != nil {
			panic(err)
		}
		unknownType = mt
	})
	m := unknownType.New()
	m.Set(m.Descriptor().Fields().ByName("payload"), protoreflect.ValueOfString(payload))
	return m.Interface()
}

// TestUndecodableMessage: messages the database node cannot decode — a
// type its binary does not link (which crashes an unhardened Proto.Actor
// node), broken indexes in a batch — are dropped, a waiting sender gets a
// dead letter at once, and the node carries on.
func TestUndecodableMessage(t *testing.T) {
	if !testnode.Isolate(t) {
		return
	}
	child, addr := startDBChild(t, envDSN+"="+sqliteDSN(t.TempDir(), "main"))
	n, closeNode := startClientNode(t)
	cl := attach(t, n, addr)
	ctx := testCtx(t, time.Minute)
	_, err := cl.Database().Status(ctx)
	require.NoError(t, err)
	regPID := node.RegistryPID(addr, "")

	t.Run("unknown type", func(t *testing.T) {
		msg := unknownMessage(t, "hello")
		require.Equal(t, protoreflect.FullName("dbactor.test.v1.Unknown"), proto.MessageName(msg))
		start := time.Now()
		_, err := n.System.Root.RequestFuture(regPID, msg, 10*time.Second).Result()
		took := time.Since(start)
		t.Logf("request of an unknown type failed in %v: %v", took.Round(time.Microsecond), err)
		require.ErrorIs(t, err, actor.ErrDeadLetter)
		require.Less(t, took, 2*time.Second)
		require.True(t, child.Alive())
		st, err := cl.Database().Status(ctx)
		require.NoError(t, err)
		require.Equal(t, client.SQLite, st.Dialect)
		require.Equal(t, "main=0", child.Call("status"))
	})

	t.Run("broken batch", func(t *testing.T) {
		// A peer of our own making: a raw Proto.Actor remoting stream.
		conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer func() { _ = conn.Close() }()
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := remote.NewRemotingClient(conn).Receive(sctx)
		require.NoError(t, err)
		// A stream is bound to the node it says it comes from (this one,
		// which the database node checks by calling back) before it may
		// carry messages.
		require.NoError(t, stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
			ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{
				SystemId: n.System.ID, Address: n.Address()}}}}}))
		resp, err := stream.Recv()
		require.NoError(t, err)
		require.NotNil(t, resp.GetConnectResponse())

		replyTo, replies := replyCollector(t, n.System)
		n.Export(replyTo, false) // it sent nothing there: the answers are let in by name
		status, err := proto.Marshal(&messages.GetStatus{})
		require.NoError(t, err)
		unknown, err := proto.Marshal(unknownMessage(t, "x"))
		require.NoError(t, err)
		batch := &remote.MessageBatch{
			TypeNames: []string{string(proto.MessageName(&messages.GetStatus{})), "dbactor.test.v1.Unknown"},
			Targets:   []*actor.PID{regPID},
			Senders:   []*actor.PID{replyTo},
			Envelopes: []*remote.MessageEnvelope{
				{TypeId: 7, Target: 0, Sender: 1, MessageData: status},                  // type index out of range
				{TypeId: -1, Target: 0, Sender: 1, MessageData: status},                 // negative type index
				{TypeId: 0, Target: 3, Sender: 1, MessageData: status},                  // target index out of range
				{TypeId: 0, Target: 0, Sender: 9, MessageData: status},                  // sender index out of range: nobody to tell
				{TypeId: 0, Target: 0, Sender: 1, SerializerId: 1, MessageData: status}, // JSON: never sent by Proto.Actor
				{TypeId: 1, Target: 0, Sender: 1, MessageData: unknown},                 // type not linked
				{TypeId: 0, Target: 0, Sender: 1, MessageData: status},                  // the one good envelope
			},
		}
		require.NoError(t, stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: batch}}))

		dead, statuses := 0, 0
		for range 6 {
			switch m := receive(t, replies, 10*time.Second, "a reply to the batch").(type) {
			case *actor.DeadLetterResponse:
				dead++
			case *messages.Status:
				statuses++
				require.Nil(t, m.GetError())
			default:
				t.Fatalf("unexpected reply %T: %v", m, m)
			}
		}
		require.Equal(t, 5, dead, "a dead letter per dropped envelope with a sender")
		require.Equal(t, 1, statuses, "the good envelope of the batch was delivered")

		require.NoError(t, stream.CloseSend())
		require.True(t, child.Alive())
		_, err = cl.Database().Status(ctx)
		require.NoError(t, err)
	})

	t.Run("batch before connect request", func(t *testing.T) {
		conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer func() { _ = conn.Close() }()
		stream, err := remote.NewRemotingClient(conn).Receive(ctx)
		require.NoError(t, err)
		status, err := proto.Marshal(&messages.GetStatus{})
		require.NoError(t, err)
		require.NoError(t, stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{
			TypeNames: []string{string(proto.MessageName(&messages.GetStatus{}))},
			Targets:   []*actor.PID{regPID},
			Envelopes: []*remote.MessageEnvelope{{MessageData: status}},
		}}}))
		_, err = stream.Recv()
		require.Equal(t, codes.PermissionDenied, grpcstatus.Code(err), "a stream that never said which node it is: %v", err)
		require.True(t, child.Alive())
	})

	require.NoError(t, cl.Close(ctx))
	closeNode()
	child.Quit()
}

// replyCollector is an actor handing every protobuf message it gets to a
// channel.
func replyCollector(t *testing.T, sys *actor.ActorSystem) (*actor.PID, <-chan proto.Message) {
	ch := make(chan proto.Message, 64)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case actor.SystemMessage, actor.AutoReceiveMessage:
		case proto.Message:
			ch <- m
		}
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	return pid, ch
}
