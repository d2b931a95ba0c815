package security

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/node"
)

// defaultWait bounds an attacker's wait for one answer.
const defaultWait = 5 * time.Second

// attacker is the state of an attacking node.
type attacker struct {
	sys    *actor.ActorSystem
	dbAddr string
	creds  credentials.TransportCredentials

	raw  *rawStream      // the current raw stream, if any
	cert tls.Certificate // its certificate (TLS attackers)
	// fakes are the fake nodes it runs (see fakes).
	fakes []*fakeNode

	// What its flood callbacks got: ModelRegistered messages, by actor.
	mu    sync.Mutex
	heard map[string]int
}

// roleAttacker is an attacking node: a Proto.Actor node with the
// certificate envCertName names (plaintext without one), trusting every
// peer itself so that every answer reaches it. Commands (each answered
// with "OK <json>"; "ERR" only when the harness itself fails):
//
//	req <reqSpec>       a message from its node → outcome
//	rawopen <openSpec>  a raw gRPC stream to the database node, claiming
//	                    an address → openResult
//	raw <batchSpec>     a hand-made batch on the raw stream (opened
//	                    first, claiming its own address, if none is open)
//	                    → []outcome, one per envelope
//	rawclaim <openSpec> another connect request on the open raw stream
//	unary               the remoting service's unary calls → unaryResult
//	rawstate <ms>       waits up to ms for the raw stream to end → streamState
//	flood <floodSpec>   many requests at once → floodResult
//	sleepers <sleepSpec> concurrent Queries; prints "REPLY <outcome>" for
//	                    each as it comes, then "OK"
//	events              what its flood callbacks got (heard)
//	fakes <n>           n fake nodes on addresses of its own, each proved to
//	                    the database node and sent an answer by it → fakesResult
func roleAttacker(out *testnode.Out) error {
	a := &attacker{dbAddr: os.Getenv(envDBAddr)}
	cfg := node.Config{Trusted: []string{"*"}, Logger: logger()}
	if name := os.Getenv(envCertName); name != "" {
		dir := os.Getenv(envCertDir)
		caFile := os.Getenv(envCAFile)
		if caFile == "" {
			caFile = filepath.Join(dir, "ca.crt")
		}
		cfg.CertFile, cfg.KeyFile, cfg.CAFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), caFile
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return err
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return errors.New("no CA certificate in " + caFile)
		}
		a.creds = credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12})
		a.cert = cert
	} else {
		a.creds = insecure.NewCredentials()
	}
	n, err := node.StartClient(cfg)
	if err != nil {
		return err
	}
	a.sys = n.System
	out.Printf("ADDR %s %s", n.Address(), n.System.ID)
	testnode.Commands(os.Stdin, func(cmd string, args []string) bool {
		// One JSON value (no runs of blanks in its strings: Commands splits
		// the line into fields), at most bufio.Scanner's 64 KiB a line.
		arg := []byte(strings.Join(args, " "))
		var res any
		var err error
		switch cmd {
		case "req":
			var s reqSpec
			if err = json.Unmarshal(arg, &s); err == nil {
				res, err = a.request(s)
			}
		case "rawopen":
			var s openSpec
			if err = json.Unmarshal(arg, &s); err == nil {
				res = a.open(s)
			}
		case "raw":
			var s batchSpec
			if err = json.Unmarshal(arg, &s); err == nil {
				res, err = a.batch(s)
			}
		case "rawclaim":
			var s openSpec
			if err = json.Unmarshal(arg, &s); err == nil {
				err = a.claim(s)
				res = "sent"
			}
		case "unary":
			res = a.unary()
		case "rawstate":
			var ms int
			if err = json.Unmarshal(arg, &ms); err == nil {
				res = a.state(time.Duration(ms) * time.Millisecond)
			}
		case "flood":
			var s floodSpec
			if err = json.Unmarshal(arg, &s); err == nil {
				res, err = a.flood(s)
			}
		case "sleepers":
			var s sleepSpec
			if err = json.Unmarshal(arg, &s); err == nil {
				err = a.sleepers(out, s)
			}
		case "watchflood":
			var s watchFlood
			if err = json.Unmarshal(arg, &s); err == nil {
				res, err = a.watchFlood(s)
			}
		case "fakes":
			var n int
			if err = json.Unmarshal(arg, &n); err == nil {
				res, err = a.startFakes(n)
			}
		case "events":
			a.mu.Lock()
			h := heard{Actors: len(a.heard)}
			for _, n := range a.heard {
				h.Events += n
			}
			a.mu.Unlock()
			res = h
		default:
			err = fmt.Errorf("unknown command %q", cmd)
		}
		if err != nil {
			out.Printf("ERR %s: %v", cmd, err)
			return true
		}
		b, err := json.Marshal(res)
		if err != nil {
			out.Printf("ERR %s: %v", cmd, err)
			return true
		}
		out.Printf("OK %s", b)
		return true
	})
	if a.raw != nil {
		a.raw.close()
	}
	for _, f := range a.fakes {
		f.srv.Stop()
	}
	return nil
}

func (a *attacker) pid(p pidSpec) *actor.PID {
	addr := p.Address
	if addr == "" {
		addr = a.dbAddr
	}
	return actor.NewPID(addr, p.ID)
}

func waitOf(ms int) time.Duration {
	if ms <= 0 {
		return defaultWait
	}
	return time.Duration(ms) * time.Millisecond
}

// result turns a future's answer into an outcome.
func result(f *actor.Future, start time.Time) outcome {
	res, err := f.Result()
	o := outcome{TookMS: time.Since(start).Milliseconds()}
	switch {
	case err != nil:
		o.Err = err.Error()
	default:
		m, ok := res.(proto.Message)
		if !ok {
			o.Err = fmt.Sprintf("answer of type %T", res)
			break
		}
		s := specOf(m)
		o.Reply = &s
	}
	return o
}

func (a *attacker) request(s reqSpec) (outcome, error) {
	target := a.pid(s.Target)
	start := time.Now()
	switch s.Mode {
	case "stop":
		a.sys.Root.Stop(target)
		return outcome{Err: "no answer expected"}, nil
	case "poison":
		a.sys.Root.Poison(target)
		return outcome{Err: "no answer expected"}, nil
	}
	msg, err := s.Msg.decode()
	if err != nil {
		return outcome{}, err
	}
	if q, ok := msg.(*messages.Query); ok && s.Columns > 0 {
		q.Sql = wideSelect(s.Columns)
	}
	switch s.Mode {
	case "send":
		a.sys.Root.Send(target, msg)
		return outcome{Err: "no answer expected"}, nil
	case "", "request":
		return result(a.sys.Root.RequestFuture(target, msg, waitOf(s.WaitMS)), start), nil
	}
	return outcome{}, fmt.Errorf("unknown mode %q", s.Mode)
}

// rawStream is a gRPC stream to the database node's remote, driven by
// hand.
type rawStream struct {
	cancel context.CancelFunc
	conn   *grpc.ClientConn
	st     remote.Remoting_ReceiveClient
	done   chan struct{} // closed when the stream ended
	err    error         // why; set before done closes
}

func (r *rawStream) close() {
	r.cancel()
	_ = r.conn.Close()
	<-r.done
}

// open opens a raw stream claiming s.Address (default: the attacker's own
// node) and waits for the connect response.
func (a *attacker) open(s openSpec) openResult {
	if a.raw != nil {
		a.raw.close()
		a.raw = nil
	}
	if s.Address == "" {
		s.Address = a.sys.Address()
	}
	if s.SystemID == "" {
		s.SystemID = a.sys.ID
	}
	start := time.Now()
	fail := func(err error) openResult {
		return openResult{Err: err.Error(), TookMS: time.Since(start).Milliseconds()}
	}
	ctx, cancel := context.WithCancel(context.Background())
	// The stream lives until closed; only opening it is bounded.
	watchdog := time.AfterFunc(waitOf(s.WaitMS), cancel)
	conn, err := grpc.NewClient("passthrough:///"+a.dbAddr, grpc.WithTransportCredentials(a.creds))
	if err != nil {
		watchdog.Stop()
		cancel()
		return fail(err)
	}
	st, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err == nil && !s.NoConnect {
		err = st.Send(connectRequest(s))
		var resp *remote.RemoteMessage
		if err == nil {
			resp, err = st.Recv()
		}
		if err == nil && resp.GetConnectResponse() == nil {
			err = fmt.Errorf("no connect response but %T", resp.GetMessageType())
		}
	}
	if err != nil || !watchdog.Stop() {
		if err == nil {
			err = errors.New("opening timed out")
		}
		cancel()
		_ = conn.Close()
		return fail(err)
	}
	r := &rawStream{cancel: cancel, conn: conn, st: st, done: make(chan struct{})}
	go func() {
		for {
			if _, err := st.Recv(); err != nil {
				r.err = err
				close(r.done)
				return
			}
		}
	}()
	a.raw = r
	return openResult{OK: true, TookMS: time.Since(start).Milliseconds()}
}

func connectRequest(s openSpec) *remote.RemoteMessage {
	cr := &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{
		SystemId: s.SystemID, Address: s.Address}}}
	if s.Client {
		cr = &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ClientConnection{ClientConnection: &remote.ClientConnection{
			SystemId: s.SystemID}}}
	}
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: cr}}
}

// claim sends another connect request on the open raw stream.
func (a *attacker) claim(s openSpec) error {
	if a.raw == nil {
		return errors.New("no raw stream")
	}
	if s.SystemID == "" {
		s.SystemID = a.sys.ID
	}
	return a.raw.st.Send(connectRequest(s))
}

// unary calls the remoting service's unary methods on a connection of its
// own.
func (a *attacker) unary() unaryResult {
	ctx, cancel := context.WithTimeout(context.Background(), defaultWait)
	defer cancel()
	conn, err := grpc.NewClient("passthrough:///"+a.dbAddr, grpc.WithTransportCredentials(a.creds))
	if err != nil {
		return unaryResult{ListProcesses: err.Error(), GetProcessDiagnostics: err.Error()}
	}
	defer conn.Close()
	c := remote.NewRemotingClient(conn)
	code := func(err error) string {
		if err == nil {
			return "OK"
		}
		return status.Code(err).String()
	}
	_, err1 := c.ListProcesses(ctx, &remote.ListProcessesRequest{Pattern: ""})
	_, err2 := c.GetProcessDiagnostics(ctx, &remote.GetProcessDiagnosticsRequest{Pid: actor.NewPID(a.dbAddr, registryName)})
	return unaryResult{ListProcesses: code(err1), GetProcessDiagnostics: code(err2)}
}

// batch sends one hand-made batch on the raw stream and collects the
// answers of its envelopes with a future sender.
func (a *attacker) batch(s batchSpec) ([]outcome, error) {
	if a.raw == nil {
		if r := a.open(openSpec{}); !r.OK {
			return nil, fmt.Errorf("opening the raw stream: %s", r.Err)
		}
	}
	wait := waitOf(s.WaitMS)
	b := &remote.MessageBatch{}
	index := func(list *[]*actor.PID, p *actor.PID) int32 {
		for i, q := range *list {
			if q.Equal(p) {
				return int32(i)
			}
		}
		*list = append(*list, p)
		return int32(len(*list) - 1)
	}
	typeIndex := func(name string) int32 {
		for i, n := range b.TypeNames {
			if n == name {
				return int32(i)
			}
		}
		b.TypeNames = append(b.TypeNames, name)
		return int32(len(b.TypeNames) - 1)
	}
	futures := make([]*actor.Future, len(s.Envelopes))
	for i, e := range s.Envelopes {
		if e.QueryBytes > 0 {
			sql := "SELECT 1 -- " + strings.Repeat("x", max(0, e.QueryBytes-12))
			e.Msg = specOf(&messages.Query{Sql: sql})
		}
		typeName := e.Msg.Type
		if e.TypeBytes > 0 {
			prefix := fmt.Sprintf("dbactor.messages.v1.Nope%d_", i)
			typeName = prefix + strings.Repeat("x", max(0, e.TypeBytes-len(prefix)))
		}
		env := &remote.MessageEnvelope{
			TypeId:       typeIndex(typeName),
			MessageData:  e.Msg.Data,
			Target:       index(&b.Targets, a.pid(e.Target)),
			SerializerId: e.Serializer,
		}
		switch e.Sender {
		case "":
		case "future":
			futures[i] = actor.NewFuture(a.sys, wait)
			env.Sender = index(&b.Senders, futures[i].PID()) + 1
		case "pid":
			if e.SenderPID == nil {
				return nil, errors.New("sender pid without sender_pid")
			}
			env.Sender = index(&b.Senders, a.pid(*e.SenderPID)) + 1
		default:
			return nil, fmt.Errorf("unknown sender %q", e.Sender)
		}
		if e.Header != nil {
			env.MessageHeader = &remote.MessageHeader{HeaderData: e.Header}
		}
		if e.BadType {
			env.TypeId = 1000
		}
		if e.BadTarget {
			env.Target = 1000
		}
		if e.BadSender {
			env.Sender = 1000
		}
		b.Envelopes = append(b.Envelopes, env)
	}
	start := time.Now()
	err := a.raw.st.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}})
	outs := make([]outcome, len(s.Envelopes))
	for i, f := range futures {
		switch {
		case f == nil:
			outs[i] = outcome{Err: "no answer expected"}
		case err != nil:
			outs[i] = outcome{Err: "sending the batch: " + err.Error()}
		default:
			outs[i] = result(f, start)
		}
	}
	return outs, nil
}

// state waits up to wait for the raw stream to end.
func (a *attacker) state(wait time.Duration) streamState {
	if a.raw == nil {
		return streamState{Closed: true, Err: "no raw stream"}
	}
	start := time.Now()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-a.raw.done:
		st := streamState{Closed: true, Err: a.raw.err.Error(), TookMS: time.Since(start).Milliseconds()}
		if s, ok := status.FromError(a.raw.err); ok {
			st.Code = s.Code().String()
		}
		return st
	case <-timer.C:
		return streamState{TookMS: time.Since(start).Milliseconds()}
	}
}

// watchFlood sends s.N Watch envelopes in one raw batch, then a GetStatus.
func (a *attacker) watchFlood(s watchFlood) (outcome, error) {
	envs := make([]envSpec, s.N)
	for i := range envs {
		envs[i] = envSpec{Target: s.Target, Msg: specOf(&actor.Watch{Watcher: actor.NewPID(a.sys.Address(), fmt.Sprintf("w%d", i))})}
	}
	if _, err := a.batch(batchSpec{Envelopes: envs}); err != nil {
		return outcome{}, err
	}
	o, err := a.batch(batchSpec{Envelopes: []envSpec{{Target: pidSpec{ID: registryName}, Msg: specOf(&messages.GetStatus{}), Sender: "future"}}, WaitMS: 30000})
	if err != nil {
		return outcome{}, err
	}
	return o[0], nil
}

// flood sends s.N requests, s.Conc at a time, and tallies the answers.
func (a *attacker) flood(s floodSpec) (floodResult, error) {
	conc := max(s.Conc, 1)
	wait := waitOf(s.WaitMS)
	registry := actor.NewPID(a.dbAddr, registryName)
	build := func(int) proto.Message { return &messages.Connect{Target: &messages.Target{}} }
	switch s.Kind {
	case "connect":
	case "owners", "callbacks":
		props := actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*messages.ModelRegistered); ok {
				a.mu.Lock()
				if a.heard == nil {
					a.heard = map[string]int{}
				}
				a.heard[c.Self().GetId()]++
				a.mu.Unlock()
			}
		})
		pids := make([]*messages.Pid, s.N)
		for i := range pids {
			p := a.sys.Root.Spawn(props)
			pids[i] = &messages.Pid{Address: p.GetAddress(), Id: p.GetId()}
		}
		if s.Kind == "owners" {
			build = func(i int) proto.Message { return &messages.Connect{Target: &messages.Target{}, Owner: pids[i]} }
		} else {
			build = func(i int) proto.Message { return &messages.RegisterCallback{Callback: pids[i]} }
		}
	default:
		return floodResult{}, fmt.Errorf("unknown flood kind %q", s.Kind)
	}
	var mu sync.Mutex
	res := floodResult{Codes: map[string]int{}, Errs: map[string]int{}}
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				o := result(a.sys.Root.RequestFuture(registry, build(i), wait), time.Now())
				mu.Lock()
				switch {
				case o.Err != "":
					res.Errs[o.Err]++
				default:
					if e := replyError(o.Reply); e != nil {
						res.Codes[e.GetCode().String()]++
					} else {
						res.OK++
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := range s.N {
		next <- i
	}
	close(next)
	wg.Wait()
	res.TookMS = time.Since(start).Milliseconds()
	return res, nil
}

// sleepers sends s.N Queries at once and prints each answer as it comes.
func (a *attacker) sleepers(out *testnode.Out, s sleepSpec) error {
	d, err := time.Parse(time.RFC3339, s.Deadline)
	if err != nil {
		return err
	}
	registry := actor.NewPID(a.dbAddr, registryName)
	start := time.Now()
	var wg sync.WaitGroup
	for range s.N {
		f := a.sys.Root.RequestFuture(registry, &messages.Query{
			Target: &messages.Target{Database: s.Database}, Sql: s.SQL, Deadline: timestamppb.New(d)}, waitOf(s.WaitMS))
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(result(f, start))
			out.Printf("REPLY %s", b)
		}()
	}
	wg.Wait()
	return nil
}

// replyError is the error a reply carries (its first one), nil for none.
func replyError(s *msgSpec) *messages.Error {
	if s == nil {
		return nil
	}
	m, err := s.decode()
	if err != nil {
		return &messages.Error{Message: "undecodable reply " + s.Type + ": " + err.Error()}
	}
	switch r := m.(type) {
	case interface{ GetErrors() []*messages.Error }:
		if es := r.GetErrors(); len(es) > 0 {
			return es[0]
		}
	case interface{ GetError() *messages.Error }:
		return r.GetError()
	}
	return nil
}

// fakeNode is a bare gRPC server that speaks just enough of Proto.Actor's
// remote protocol to pass the database node's address probe (it answers a
// connect request with its own system id, over TLS with the attacker's
// certificate) and to take the database node's messages.
type fakeNode struct {
	remote.UnimplementedRemotingServer
	id      string
	srv     *grpc.Server
	addr    string
	batches chan struct{} // one per batch the database node sent it
}

// Receive implements remote.RemotingServer.
func (f *fakeNode) Receive(st remote.Remoting_ReceiveServer) error {
	for {
		m, err := st.Recv()
		if err != nil {
			return err
		}
		switch m.GetMessageType().(type) {
		case *remote.RemoteMessage_ConnectRequest:
			if err := st.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectResponse{
				ConnectResponse: &remote.ConnectResponse{MemberId: f.id}}}); err != nil {
				return err
			}
		case *remote.RemoteMessage_MessageBatch:
			select {
			case f.batches <- struct{}{}:
			default:
			}
		}
	}
}

// startFakes starts n fake nodes; for each it opens a raw stream claiming
// the fake's address and system id, and sends a GetStatus whose sender is
// on that address, so that the database node answers there (opening a
// Proto.Actor endpoint towards it). It returns once every fake got its
// answer, or after a bound.
func (a *attacker) startFakes(n int) (fakesResult, error) {
	if len(a.cert.Certificate) == 0 {
		return fakesResult{}, errors.New("fake nodes need a certificate")
	}
	start := time.Now()
	res := fakesResult{}
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return res, err
		}
		f := &fakeNode{id: fmt.Sprintf("fake-%d-%s", i, a.sys.ID), addr: ln.Addr().String(), batches: make(chan struct{}, 1)}
		f.srv = grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{a.cert}, MinVersion: tls.VersionTLS12})))
		remote.RegisterRemotingServer(f.srv, f)
		go func() { _ = f.srv.Serve(ln) }()
		a.fakes = append(a.fakes, f)
		res.Addresses++
		if r := a.open(openSpec{Address: f.addr, SystemID: f.id}); !r.OK {
			res.Refused++
			res.Why = r.Err
			continue
		}
		if _, err := a.batch(batchSpec{Envelopes: []envSpec{{Target: pidSpec{ID: registryName}, Msg: specOf(&messages.GetStatus{}),
			Sender: "pid", SenderPID: &pidSpec{Address: f.addr, ID: "x"}}}}); err != nil {
			return res, err
		}
		select {
		case <-f.batches:
			res.Answered++
		case <-time.After(defaultWait):
		}
	}
	res.TookMS = time.Since(start).Milliseconds()
	return res, nil
}
