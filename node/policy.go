package node

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/messages"
)

// Op is a kind of request a peer may be granted; combine them with |.
type Op uint32

// The operations a grant can allow.
const (
	// OpLifecycle: Connect and Disconnect (not forced), GetStatus,
	// ListDatabases, GetSchemas.
	OpLifecycle Op = 1 << iota
	// OpRead: Query. Without OpWrite on the same database the statement
	// runs read-only (PostgreSQL: a READ ONLY transaction and one
	// statement; SQLite: one SELECT on a query_only connection). Also
	// Migrate's status and dry runs, which read the version tables of the
	// databases they name (and of their tenant schemas).
	OpRead
	// OpWrite: Exec, and Query without the read-only guard.
	OpWrite
	// OpSchema: CreateSchema, DropSchema, CreateAll, DropAll, and
	// Migrate up or down (not a dry run): the node's own migrations, DDL
	// run as the pool's user, on every database the request names (every
	// database when it names none).
	OpSchema
	// OpModels: RegisterModel, DeleteModel.
	OpModels
	// OpCallbacks: RegisterCallback (of an actor on the peer's own node).
	OpCallbacks
	// OpForce: Disconnect with force, which closes a pool other callers
	// may hold.
	OpForce

	// OpAll is every operation.
	OpAll = OpLifecycle | OpRead | OpWrite | OpSchema | OpModels | OpCallbacks | OpForce
	// OpDefault is what a peer the policy does not name may do: keep
	// databases open and follow model registrations.
	OpDefault = OpLifecycle | OpCallbacks
)

var opNames = []struct {
	op   Op
	name string
}{
	{OpLifecycle, "lifecycle"}, {OpRead, "read"}, {OpWrite, "write"}, {OpSchema, "schema"},
	{OpModels, "models"}, {OpCallbacks, "callbacks"}, {OpForce, "force"},
}

// String names the operations, joined by "|".
func (o Op) String() string {
	var parts []string
	for _, n := range opNames {
		if o&n.op != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Grant allows operations on databases.
type Grant struct {
	// Ops are the operations allowed.
	Ops Op
	// Databases are the databases they are allowed on ("" is the main
	// database). Empty: every database, including requests about all of
	// them at once (a registry-wide Connect, ListDatabases). A grant that
	// lists databases allows only requests naming one of them.
	Databases []string
	// Role is the PostgreSQL role the peer's statements run as (SET LOCAL
	// ROLE inside their transaction), so that the server's own GRANTs
	// apply too. The registry's database user must be a member of it.
	// Ignored by SQLite. "" runs them as the configured user.
	//
	// A role narrows what a statement does by mistake, not what a hostile
	// one can: PostgreSQL lets a session return to its login user at any
	// time, and one statement can (set_config('role', 'none', true) beside
	// a function that runs SQL). Where the server must enforce a peer's
	// rights, give it a registry of its own whose database user has only
	// those rights.
	Role string
}

// covers reports whether g allows op on database db; all: the request is
// about every database.
func (g Grant) covers(op Op, db string, all bool) bool {
	if g.Ops&op == 0 {
		return false
	}
	if len(g.Databases) == 0 {
		return true
	}
	return !all && slices.Contains(g.Databases, db)
}

// Peer is a node that sent a request, as the trust boundary verified it.
type Peer struct {
	// Identity is the peer's verified certificate's identity (see
	// Config.Identity), LoopbackIdentity or InsecureIdentity.
	Identity string
	// Address is the peer's node address, verified: its certificate
	// names the host, and the node there proved to be the peer.
	Address string
}

// Request is a request a peer sent, as Authorize sees it.
type Request struct {
	// Op is the operation it needs.
	Op Op
	// Databases are the databases it acts on ("" is the main database);
	// nil for a request about every database.
	Databases []string
	// Message is the request itself (*messages.Connect, *messages.Query…).
	// Read it, never change it.
	Message proto.Message
}

// Policy says what each peer may do. Every request from a peer is
// authorized before any actor sees it; a refused one is answered with
// CODE_PERMISSION_DENIED (client.ErrPermissionDenied) and published as
// an *messages.AccessDenied event.
type Policy struct {
	// Default are the grants of every peer. nil: OpDefault on every
	// database. An empty, non-nil slice grants nothing.
	Default []Grant
	// Peers adds grants by identity (Peer.Identity).
	Peers map[string][]Grant
	// Authorize, when set, is asked about every request the grants
	// allow, and may refuse it with an error (its text is logged and
	// published, not sent to the peer). It runs on the goroutine that
	// reads the peer's stream: return quickly, and never block.
	Authorize func(Peer, Request) error
}

// decision is what the policy says about one request.
type decision struct {
	allowed bool
	reason  string
	// For statements: may it write, and as which role.
	write bool
	role  string
}

// grants are the grants of identity.
func (p *Policy) grants(identity string) []Grant {
	base := p.Default
	if base == nil {
		base = []Grant{{Ops: OpDefault}}
	}
	// The peer's own grants first: where several cover a request, the
	// first decides its role.
	return append(slices.Clone(p.Peers[identity]), base...)
}

// decide applies the grants (and then Authorize) to a request.
func (p *Policy) decide(peer Peer, req Request) decision {
	grants := p.grants(peer.Identity)
	all := req.Databases == nil
	dbs := req.Databases
	if all {
		dbs = []string{"*"}
	}
	var d decision
	for _, db := range dbs {
		g, ok := find(grants, req.Op, db, all)
		if !ok {
			return decision{reason: fmt.Sprintf("peer %q has no %s grant on %s", peer.Identity, req.Op, dbLabel(db))}
		}
		if req.Op == OpRead {
			// A grant to write on the same database lifts the read-only
			// guard; its role then applies.
			if w, ok := find(grants, OpWrite, db, all); ok {
				g, d.write = w, true
			}
		} else {
			d.write = true
		}
		if d.role == "" {
			d.role = g.Role
		}
	}
	if p.Authorize != nil {
		if err := safeAuthorize(p.Authorize, peer, req); err != nil {
			return decision{reason: "Authorize: " + err.Error()}
		}
	}
	d.allowed = true
	return d
}

func find(grants []Grant, op Op, db string, all bool) (Grant, bool) {
	for _, g := range grants {
		if g.covers(op, db, all) {
			return g, true
		}
	}
	return Grant{}, false
}

// safeAuthorize runs a user's Authorize; a panic in it refuses.
func safeAuthorize(f func(Peer, Request) error, peer Peer, req Request) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked: %v", r)
		}
	}()
	return f(peer, req)
}

func dbLabel(db string) string {
	switch db {
	case "":
		return "the main database"
	case "*":
		return "every database"
	}
	return fmt.Sprintf("database %q", db)
}

// requestTypes are the protobuf names of the requests classify knows.
var requestTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range []proto.Message{
		&messages.Connect{}, &messages.Disconnect{}, &messages.GetStatus{}, &messages.ListDatabases{},
		&messages.GetSchemas{}, &messages.Query{}, &messages.Exec{}, &messages.CreateSchema{},
		&messages.DropSchema{}, &messages.CreateAll{}, &messages.DropAll{}, &messages.RegisterModel{},
		&messages.DeleteModel{}, &messages.RegisterCallback{}, &messages.Migrate{},
	} {
		if _, ok := classify(r); !ok {
			panic(fmt.Sprintf("node: %T is no request", r))
		}
		m[string(proto.MessageName(r))] = true
	}
	return m
}()

// classify says what a request needs; ok is false for a message that is
// no request (a reply, an event), which needs no grant.
func classify(msg proto.Message) (req Request, ok bool) {
	one := func(t *messages.Target) []string { return []string{t.GetDatabase()} }
	orAll := func(t *messages.Target) []string {
		if t == nil {
			return nil
		}
		return one(t)
	}
	orMain := func(dbs []string) []string {
		if len(dbs) == 0 {
			return []string{""}
		}
		return dbs
	}
	req.Message = msg
	switch m := msg.(type) {
	case *messages.Connect:
		req.Op, req.Databases = OpLifecycle, orAll(m.GetTarget())
	case *messages.Disconnect:
		req.Op, req.Databases = OpLifecycle, orAll(m.GetTarget())
		if m.GetForce() {
			req.Op = OpForce
		}
	case *messages.GetStatus:
		req.Op, req.Databases = OpLifecycle, one(m.GetTarget())
	case *messages.ListDatabases:
		req.Op = OpLifecycle
	case *messages.GetSchemas:
		req.Op, req.Databases = OpLifecycle, one(m.GetTarget())
	case *messages.Query:
		req.Op, req.Databases = OpRead, one(m.GetTarget())
	case *messages.Exec:
		req.Op, req.Databases = OpWrite, one(m.GetTarget())
	case *messages.CreateSchema:
		req.Op, req.Databases = OpSchema, orMain(m.GetDatabases())
	case *messages.DropSchema:
		req.Op, req.Databases = OpSchema, orMain(m.GetDatabases())
	case *messages.CreateAll:
		req.Op, req.Databases = OpSchema, orMain(m.GetDatabases())
	case *messages.DropAll:
		req.Op, req.Databases = OpSchema, orMain(m.GetDatabases())
	case *messages.RegisterModel:
		req.Op, req.Databases = OpModels, []string{m.GetModel().GetDatabase()}
	case *messages.DeleteModel:
		// Which database the model is bound to is the registry's to know.
		req.Op = OpModels
	case *messages.RegisterCallback:
		req.Op = OpCallbacks
	case *messages.Migrate:
		// Its databases, or every database (and a grant that lists
		// databases never covers that). Status and dry runs only read
		// the version tables; up and down run DDL.
		req.Op = OpSchema
		if m.GetOp() == messages.MigrateOp_MIGRATE_OP_STATUS || m.GetDryRun() {
			req.Op = OpRead
		}
		if dbs := m.GetDatabases(); len(dbs) > 0 {
			req.Databases = slices.Clone(dbs)
		}
	default:
		return Request{}, false
	}
	return req, true
}

// validate checks what a request names for the peer that sent it: the
// actors it hands the registry (owners, callbacks) must be the peer's
// own, else it could act for, or make the node dial, anyone.
func validate(peer Peer, msg proto.Message) error {
	check := func(what string, p *messages.Pid) error {
		switch {
		case p == nil || p.GetId() == "" && p.GetAddress() == "":
			return nil
		case p.GetAddress() != peer.Address:
			return fmt.Errorf("%s %q is not an actor of the peer's own node %s", what, clip(p.GetAddress()+"/"+p.GetId()), peer.Address)
		case len(p.GetId()) > maxName:
			return fmt.Errorf("%s id longer than %d bytes", what, maxName)
		case p.GetId() == activatorID:
			// Proto.Actor's activator stands for the whole node, which
			// the registry tracks as such already.
			return fmt.Errorf("%s is the peer node's activator, no caller", what)
		}
		return nil
	}
	switch m := msg.(type) {
	case *messages.Connect:
		return check("owner", m.GetOwner())
	case *messages.Disconnect:
		return check("owner", m.GetOwner())
	case *messages.RegisterCallback:
		if m.GetCallback().GetId() == "" {
			return nil // the registry refuses it
		}
		return check("callback", m.GetCallback())
	}
	return nil
}
