package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/ops"
	"github.com/dbactor/dbactor/messages"
)

// Migrations across nodes: a database node that serves migrations (package
// migrate's Serve, with its own migration files) runs them for a Client.
// The request chooses only which sets, which way and how far; the SQL is
// the node's. The node's policy decides: MigrateStatus and dry runs need
// node.OpRead, MigrateUp and MigrateDown node.OpSchema, on every database
// they touch (every database unless MigrateDatabases names some).

// MainDatabaseDir is how package migrate names the main database's set
// ("default"); MigrateDatabases takes it for "" too.
const MainDatabaseDir = "default"

// MigrateOption adjusts MigrateStatus, MigrateUp and MigrateDown.
type MigrateOption func(*migrateRequest)

type migrateRequest struct {
	msg  messages.Migrate
	errs []error
}

// MigrateTo sets the target version: MigrateUp applies pending migrations
// up to and including version; MigrateDown rolls back every applied one
// above it (0: all). Without it, MigrateUp applies everything pending and
// MigrateDown rolls back the latest migration of each set.
func MigrateTo(version int64) MigrateOption {
	return func(r *migrateRequest) {
		if version < 0 {
			r.errs = append(r.errs, fmt.Errorf("%w: MigrateTo(%d): a version is 0 or more", ErrInvalidArgument, version))
		}
		r.msg.To = &version
	}
}

// MigrateDryRun makes MigrateUp or MigrateDown report what would run
// (MigrationSet.Ran) and run nothing; it needs no more than MigrateStatus
// (node.OpRead).
func MigrateDryRun() MigrateOption { return func(r *migrateRequest) { r.msg.DryRun = true } }

// MigrateDatabases limits the request to these databases: "" (or
// MainDatabaseDir) is the main database, extras by name. Without it every
// database of the registry takes part — which a grant that lists
// databases does not cover.
func MigrateDatabases(names ...string) MigrateOption {
	return func(r *migrateRequest) {
		for _, n := range names {
			if n == MainDatabaseDir {
				n = ""
			}
			r.msg.Databases = append(r.msg.Databases, n)
		}
	}
}

// MigrateTenants limits the tenant sets to these schemas (each must exist
// where tenant migrations are, else that set fails). Without it every
// tenant schema takes part.
func MigrateTenants(names ...string) MigrateOption {
	return func(r *migrateRequest) { r.msg.Tenants = append(r.msg.Tenants, names...) }
}

// MigrateNoTenants leaves the tenant sets out.
func MigrateNoTenants() MigrateOption { return func(r *migrateRequest) { r.msg.NoTenants = true } }

// MigrateStopOnError stops at the first set that fails; the sets after it
// are reported Skipped.
func MigrateStopOnError() MigrateOption { return func(r *migrateRequest) { r.msg.StopOnError = true } }

// MigrateReplyLimit bounds the reply to about bytes bytes (0: 1 MiB, at
// most MaxRequest): beyond it the node leaves out the sets' migration
// lists first (MigrationReport.Truncated), then whole sets, successful ones
// first (MigrationReport.OmittedSets). Counts and failures are kept.
func MigrateReplyLimit(bytes uint64) MigrateOption {
	return func(r *migrateRequest) { r.msg.MaxBytes = bytes }
}

// Migration is one migration of a set.
type Migration struct {
	// Version is the number its file name starts with.
	Version int64
	// Source is its file, relative to the set's directory ("" for a Go
	// migration).
	Source string
	// Applied is its state after the request (else pending).
	Applied bool
	// AppliedAt is when it was applied, as the version table says.
	AppliedAt time.Time
}

// MigrationSet is what became of one set of migrations on the node: a
// database's own (Schema "") or one tenant schema's.
type MigrationSet struct {
	// Database is the registry's name for it, "" for the main database.
	Database string
	// Schema is the tenant schema, "" for the database's own set.
	Schema string
	// Dir is the set's directory in the node's migrations tree.
	Dir string
	// Before and Version are the set's version (the highest applied)
	// before and after the request.
	Before, Version int64
	// Ran lists what the request applied (up) or rolled back (down), in
	// order, each committed; with MigrateDryRun, what would run.
	Ran []Migration
	// Migrations is every migration of the set with its state after the
	// request; nil when the reply was truncated.
	Migrations []Migration
	// Applied and Pending count the set's migrations by state.
	Applied, Pending int
	// Skipped is true when the set was not attempted (MigrateStopOnError
	// after an earlier failure).
	Skipped bool
	// Err is the set's failure, a *MigrationError, or nil. A failed
	// migration was rolled back: it is pending, never counted applied.
	Err error
}

// Name is "database" or "database/tenant", with MainDatabaseDir for the
// main database.
func (s MigrationSet) Name() string {
	name := s.Database
	if name == "" {
		name = MainDatabaseDir
	}
	if s.Schema != "" {
		name += "/" + s.Schema
	}
	return name
}

// MigrationReport is what a MigrateStatus, MigrateUp or MigrateDown did,
// set by set: each database's own set, then its tenants by name; the main
// database first, then the extras by name.
type MigrationReport struct {
	// Op is "status", "up" or "down".
	Op string
	// DryRun is true when nothing ran: MigrationSet.Ran is what would.
	DryRun bool
	// Sets holds one MigrationSet per set that took part (and fit).
	Sets []MigrationSet
	// Truncated is true when the node left lists out to fit the reply
	// limit (MigrateReplyLimit): MigrationSet.Migrations, and if need be
	// MigrationSet.Ran, are then nil; counts and failures are kept.
	Truncated bool
	// OmittedSets sets were left out entirely for the same reason
	// (successful ones first); the error counts any failed among them.
	OmittedSets int
}

// Pending counts the migrations still pending over every set listed.
func (r *MigrationReport) Pending() int {
	n := 0
	for _, s := range r.Sets {
		n += s.Pending
	}
	return n
}

// Err joins the failures of the sets listed (nil when none failed).
func (r *MigrationReport) Err() error {
	var errs []error
	for _, s := range r.Sets {
		if s.Err != nil {
			errs = append(errs, s.Err)
		}
	}
	return errors.Join(errs...)
}

// MigrateStatus reports every set's migrations on the registry's node,
// applied and pending, and changes nothing. It needs node.OpRead on the
// databases it reads.
func (cl *Client) MigrateStatus(ctx context.Context, opts ...MigrateOption) (*MigrationReport, error) {
	return cl.migrate(ctx, messages.MigrateOp_MIGRATE_OP_STATUS, opts)
}

// MigrateUp applies the node's pending migrations to every set (see
// MigrateTo, MigrateDatabases, MigrateTenants, MigrateDryRun). The report
// lists every set; the error joins one *MigrationError per failed set
// (errors.As finds each), or is the request's refusal alone
// (ErrPermissionDenied without node.OpSchema on every database it
// touches; nothing ran then).
func (cl *Client) MigrateUp(ctx context.Context, opts ...MigrateOption) (*MigrationReport, error) {
	return cl.migrate(ctx, messages.MigrateOp_MIGRATE_OP_UP, opts)
}

// MigrateDown rolls back the latest migration of every set, or every one
// above MigrateTo's version; as MigrateUp otherwise.
func (cl *Client) MigrateDown(ctx context.Context, opts ...MigrateOption) (*MigrationReport, error) {
	return cl.migrate(ctx, messages.MigrateOp_MIGRATE_OP_DOWN, opts)
}

func (cl *Client) migrate(ctx context.Context, op messages.MigrateOp, opts []MigrateOption) (*MigrationReport, error) {
	return call(ctx, cl, migrateOp(op, opts))
}

// MigrateStatus is Client.MigrateStatus from inside an actor: then gets
// what that returns.
func (a Async) MigrateStatus(c actor.Context, then func(*MigrationReport, error), opts ...MigrateOption) {
	ops.Async(c, a.Registry, a.Timeout, migrateOp(messages.MigrateOp_MIGRATE_OP_STATUS, opts), then)
}

// MigrateUp is Client.MigrateUp from inside an actor. The migrations run
// on the registry's node until the request's deadline (the Async's
// Timeout), whether then still waits or not.
func (a Async) MigrateUp(c actor.Context, then func(*MigrationReport, error), opts ...MigrateOption) {
	ops.Async(c, a.Registry, a.Timeout, migrateOp(messages.MigrateOp_MIGRATE_OP_UP, opts), then)
}

// MigrateDown is Client.MigrateDown from inside an actor.
func (a Async) MigrateDown(c actor.Context, then func(*MigrationReport, error), opts ...MigrateOption) {
	ops.Async(c, a.Registry, a.Timeout, migrateOp(messages.MigrateOp_MIGRATE_OP_DOWN, opts), then)
}

// migrateOp is the Migrate request opts describe, read as a report.
func migrateOp(op messages.MigrateOp, opts []MigrateOption) ops.Op[*MigrationReport] {
	r := migrateRequest{msg: messages.Migrate{Op: op}}
	for _, o := range opts {
		o(&r)
	}
	r.msg.MaxBytes = min(r.msg.MaxBytes, MaxRequest)
	inner := ops.Migrate(errors.Join(r.errs...), func(ts *timestamppb.Timestamp) *messages.Migrate {
		return &messages.Migrate{Op: r.msg.Op, To: r.msg.To, DryRun: r.msg.DryRun, Databases: r.msg.Databases,
			Tenants: r.msg.Tenants, NoTenants: r.msg.NoTenants, StopOnError: r.msg.StopOnError, MaxBytes: r.msg.MaxBytes,
			Deadline: ts}
	})
	return ops.Op[*MigrationReport]{
		Refused: inner.Refused,
		Build:   inner.Build,
		Read: func(reply any, err error) (*MigrationReport, error) {
			res, err := inner.Read(reply, err)
			if res == nil {
				return nil, err
			}
			return reportOf(res), err
		},
	}
}

func reportOf(r *messages.MigrateResult) *MigrationReport {
	rep := &MigrationReport{Op: ops.MigrateOpName(r.GetOp()), DryRun: r.GetDryRun(), Truncated: r.GetTruncated(),
		OmittedSets: int(r.GetOmittedSets()), Sets: make([]MigrationSet, 0, len(r.GetSets()))}
	for _, s := range r.GetSets() {
		rep.Sets = append(rep.Sets, MigrationSet{
			Database: s.GetDatabase(), Schema: s.GetSchema(), Dir: s.GetDir(),
			Before: s.GetBefore(), Version: s.GetVersion(),
			Ran: migrationsOf(s.GetRan()), Migrations: migrationsOf(s.GetMigrations()),
			Applied: int(s.GetApplied()), Pending: int(s.GetPending()), Skipped: s.GetSkipped(),
			Err: ops.MigrationErr(r.GetOp(), s),
		})
	}
	return rep
}

func migrationsOf(ms []*messages.MigrationInfo) []Migration {
	if len(ms) == 0 {
		return nil
	}
	out := make([]Migration, len(ms))
	for i, m := range ms {
		out[i] = Migration{Version: m.GetVersion(), Source: m.GetSource(), Applied: m.GetApplied()}
		if m.GetAppliedAt() != nil {
			out[i].AppliedAt = m.GetAppliedAt().AsTime()
		}
	}
	return out
}
