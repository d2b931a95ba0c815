package security

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/dbactor/dbactor/internal/testnode"
)

// Child roles (testnode.EnvRole):
//
//   - "db": the database node (roleDB). It prints "ADDR <address>" and
//     answers commands on stdin (see roleDB).
//   - "attacker": an attacking node (roleAttacker) with the certificate
//     envCertName names in envCertDir (none: plaintext). It prints
//     "ADDR <address> <actor-system id>" and performs one attack per
//     command (see roleAttacker).
//
// Both exit when stdin closes, without stopping remote gracefully (their
// peers may have gone: Proto.Actor would retry reaching them for seconds).
const (
	envPGDSN    = "DBACTOR_SECURITY_PG_DSN"
	envLiteDSN  = "DBACTOR_SECURITY_LITE_DSN"
	envCertDir  = "DBACTOR_SECURITY_CERT_DIR"
	envCertName = "DBACTOR_SECURITY_CERT_NAME"
	envCAFile   = "DBACTOR_SECURITY_CA_FILE"
	envDBAddr   = "DBACTOR_SECURITY_DB_ADDR"
	envDebug    = "DBACTOR_SECURITY_DEBUG"

	registryName = "dbactor"
	liteName     = "lite"
)

func TestMain(m *testing.M) {
	if role := testnode.Role(); role != "" {
		os.Exit(testnode.RunRole(role, map[string]func(*testnode.Out) error{"db": roleDB, "attacker": roleAttacker}))
	}
	goleak.VerifyTestMain(m,
		// Proto.Actor's dead-letter log throttle: started on a dead letter,
		// it ends by itself after the throttle interval.
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	)
}

// logger logs to stderr (which the parent shows when a test fails) when
// DBACTOR_SECURITY_DEBUG is set, else nowhere.
func logger() *slog.Logger {
	if os.Getenv(envDebug) == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// --- what parent and attacker exchange (one JSON line per command) ---

// pidSpec names an actor; Address "" is the database node's.
type pidSpec struct {
	Address string `json:"address,omitempty"`
	ID      string `json:"id"`
}

// msgSpec is one protobuf message: its full name and its bytes. Type may
// name a type no binary links (the bytes are sent as they are).
type msgSpec struct {
	Type string `json:"type"`
	Data []byte `json:"data,omitempty"`
}

func specOf(m proto.Message) msgSpec {
	data, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return msgSpec{Type: string(proto.MessageName(m)), Data: data}
}

// decode turns a msgSpec back into its message (nil for a type this
// binary does not link).
func (s msgSpec) decode() (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(s.Type))
	if err != nil {
		return nil, err
	}
	m := mt.New().Interface()
	return m, proto.Unmarshal(s.Data, m)
}

// reqSpec is a message the attacker sends from its Proto.Actor node.
type reqSpec struct {
	Target pidSpec `json:"target"`
	Msg    msgSpec `json:"msg"`
	// Mode: "request" (RequestFuture; the default), "send" (no sender),
	// "stop" (Root.Stop: actor.Stop, the message is ignored), "poison"
	// (Root.Poison: actor.PoisonPill).
	Mode   string `json:"mode,omitempty"`
	WaitMS int    `json:"wait_ms,omitempty"`
	// Columns, when set and Msg is a Query, replaces its SQL with
	// wideSelect(Columns) (too long for a command line).
	Columns int `json:"columns,omitempty"`
}

// wideSelect is a SELECT of n columns, each named with 63 bytes (the
// longest name PostgreSQL keeps).
func wideSelect(n int) string {
	cols := make([]string, n)
	for i := range cols {
		cols[i] = fmt.Sprintf(`1 AS "%s%04d"`, strings.Repeat("n", 59), i)
	}
	return "SELECT " + strings.Join(cols, ", ")
}

// watchFlood: N Watch envelopes to Target, each with a watcher of its own
// on the attacker's address, in one raw batch; then a GetStatus on the same
// stream (its outcome is the answer).
type watchFlood struct {
	N      int     `json:"n"`
	Target pidSpec `json:"target"`
}

// fakesResult: how many fake nodes (addresses) the attacker proved and had
// the database node answer at.
type fakesResult struct {
	Addresses int    `json:"addresses"` // tried
	Refused   int    `json:"refused"`   // claims the node refused
	Why       string `json:"why,omitempty"`
	Answered  int    `json:"answered"` // addresses the node answered at
	TookMS    int64  `json:"took_ms"`
}

// heard is what the attacker's flood callbacks received.
type heard struct {
	Events int `json:"events"`
	Actors int `json:"actors"`
}

// envSpec is one hand-made envelope of a raw batch.
type envSpec struct {
	Target pidSpec `json:"target"`
	Msg    msgSpec `json:"msg"`
	// Sender: "" none, "future" (a future of the attacker's node, whose
	// answer is reported), "pid" (SenderPID, forged: no answer awaited).
	Sender    string            `json:"sender,omitempty"`
	SenderPID *pidSpec          `json:"sender_pid,omitempty"`
	Header    map[string]string `json:"header,omitempty"`
	// Malformations.
	Serializer int32 `json:"serializer,omitempty"`
	BadType    bool  `json:"bad_type,omitempty"`   // type index out of range
	BadTarget  bool  `json:"bad_target,omitempty"` // target index out of range
	BadSender  bool  `json:"bad_sender,omitempty"` // sender index out of range
	// QueryBytes, when set, replaces Msg with a Query of that many bytes of
	// SQL (too long for a command line).
	QueryBytes int `json:"query_bytes,omitempty"`
	// TypeBytes, when set, replaces Msg's type name with one of this
	// binary's protocol package that no type has, TypeBytes long and
	// distinct per envelope.
	TypeBytes int `json:"type_bytes,omitempty"`
}

// batchSpec is one raw MessageBatch.
type batchSpec struct {
	Envelopes []envSpec `json:"envelopes"`
	WaitMS    int       `json:"wait_ms,omitempty"`
}

// outcome is what became of one request: its reply, or why none came.
type outcome struct {
	Reply  *msgSpec `json:"reply,omitempty"`
	Err    string   `json:"err,omitempty"`
	TookMS int64    `json:"took_ms"`
}

// openSpec opens a raw stream claiming Address with SystemID (defaults:
// the attacker node's own).
type openSpec struct {
	Address  string `json:"address,omitempty"`
	SystemID string `json:"system_id,omitempty"`
	WaitMS   int    `json:"wait_ms,omitempty"`
	// Client sends a ClientConnection (no address) instead.
	Client bool `json:"client,omitempty"`
	// NoConnect opens the stream and sends nothing.
	NoConnect bool `json:"no_connect,omitempty"`
}

// unaryResult is how the unary calls of the remoting service went.
type unaryResult struct {
	ListProcesses         string `json:"list_processes"`
	GetProcessDiagnostics string `json:"get_process_diagnostics"`
}

// openResult is how opening a raw stream went.
type openResult struct {
	OK     bool   `json:"ok"`
	Err    string `json:"err,omitempty"`
	TookMS int64  `json:"took_ms"`
}

// streamState is whether the raw stream is still open.
type streamState struct {
	Closed bool   `json:"closed"`
	Code   string `json:"code,omitempty"`
	Err    string `json:"err,omitempty"`
	TookMS int64  `json:"took_ms"`
}

// floodSpec: N requests of Kind ("connect": Connect of the main database,
// owner unset; "owners": the same, each with an owner actor of its own;
// "callbacks": RegisterCallback, each of an actor of its own), Conc at once.
type floodSpec struct {
	Kind   string `json:"kind"`
	N      int    `json:"n"`
	Conc   int    `json:"conc,omitempty"`
	WaitMS int    `json:"wait_ms,omitempty"`
}

// floodResult tallies a flood: accepted, refused by code, failed otherwise.
type floodResult struct {
	OK     int            `json:"ok"`
	Codes  map[string]int `json:"codes,omitempty"`
	Errs   map[string]int `json:"errs,omitempty"`
	TookMS int64          `json:"took_ms"`
}

// sleepSpec: N Queries of SQL at once with Deadline (RFC 3339); each reply
// is printed as a "REPLY <outcome>" line as it comes.
type sleepSpec struct {
	N        int    `json:"n"`
	SQL      string `json:"sql"`
	Database string `json:"database,omitempty"`
	Deadline string `json:"deadline"`
	WaitMS   int    `json:"wait_ms,omitempty"`
}

// memStats is the database node's memory, from runtime/metrics.
type memStats struct {
	HeapBase  uint64 `json:"heap_base"`
	HeapPeak  uint64 `json:"heap_peak"`
	TotalBase uint64 `json:"total_base"`
	TotalPeak uint64 `json:"total_peak"`
	// Allocated is how many bytes the node allocated in between, garbage
	// included: what reading a value whole would show, whatever the GC did.
	Allocated uint64 `json:"allocated"`
	Samples   int    `json:"samples"`
}
