package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/internal/regactor"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// maxErrorText bounds the text of one set's error in a reply.
const maxErrorText = 4 << 10

// Serve makes reg answer the protocol's Migrate requests with the
// migrations in fsys: requests from actors of its actor system, and from
// client nodes its node exports it to (client.Client's MigrateStatus,
// MigrateUp and MigrateDown; see node/dbnode). A request chooses only
// which sets take part, which way and how far (To, DryRun, Databases,
// Tenants, NoTenants, StopOnError); the migrations are always these, the
// node's own — no request carries SQL. opts are New's (VersionTable,
// WithGoMigrations, WithLogger); the options that choose sets or versions
// belong to the requests and are refused here (ErrInvalidArgument).
//
// fsys is checked against reg as New checks it. The registry actor then
// runs each request on a goroutine of its own, never in its mailbox,
// MaxServed at once (more are answered ErrOverloaded), bounded by the
// request's deadline — for a peer, by its node's MaxDeadline: raise that
// (node.Config.MaxDeadline) for migrations that take longer — and by
// Close, which waits for them as for schema requests. Calling Serve again
// replaces the migrations served. A registry on which Serve was not called
// answers Migrate with ErrUnsupported.
//
// A node's policy authorizes every request before the registry sees it
// (see package node): status and dry runs need node.OpRead, up and down
// node.OpSchema, on every database they touch. On a database node:
//
//	n, err := dbnode.Start(nodeCfg, regCfg)
//	err = migrate.Serve(ctx, n.Registry, fsys)
func Serve(ctx context.Context, reg *registry.Registry, fsys fs.FS, opts ...Option) error {
	if reg == nil {
		return fmt.Errorf("%w: Serve needs a registry", ErrInvalidArgument)
	}
	m, err := New(reg, fsys, opts...)
	if err != nil {
		return err
	}
	c, err := m.config(nil)
	if err != nil {
		return err
	}
	if c.toSet || c.dryRun || c.databases != nil || c.tenantsSet || c.noTenants || c.stopOnError {
		return fmt.Errorf("%w: Serve takes New's options (VersionTable, WithGoMigrations, WithLogger); To, DryRun, Databases, Tenants, NoTenants and StopOnError come with each request", ErrInvalidArgument)
	}
	reply, err := request.Request(ctx, reg.System(), reg.PID(), &regactor.ServeMigrations{Handler: m.answer}, client.DefaultTimeout)
	if err != nil {
		return fmt.Errorf("dbactor/migrate: Serve: %w", request.Err(err))
	}
	r, ok := reply.(*regactor.ServingMigrations)
	if !ok {
		return request.Unexpected(reply)
	}
	if r.Err != nil {
		return fmt.Errorf("dbactor/migrate: Serve: %w", r.Err)
	}
	return nil
}

// MaxServed is how many Migrate requests a registry works on at once.
const MaxServed = regactor.MaxMigrations

// answer runs one Migrate request (on the goroutine the registry actor
// started for it) and makes its reply.
func (m *Migrator) answer(ctx context.Context, req *messages.Migrate) *messages.MigrateResult {
	res := &messages.MigrateResult{Op: req.GetOp()}
	refuse := func(code messages.Code, database, msg string) *messages.MigrateResult {
		res.Error = &messages.Error{Code: code, Database: database, Message: "dbactor/migrate: " + msg}
		return res
	}
	var op Op
	switch req.GetOp() {
	case messages.MigrateOp_MIGRATE_OP_STATUS:
		op = OpStatus
	case messages.MigrateOp_MIGRATE_OP_UP:
		op = OpUp
	case messages.MigrateOp_MIGRATE_OP_DOWN:
		op = OpDown
	default:
		return refuse(messages.Code_CODE_INVALID_ARGUMENT, "", fmt.Sprintf("unknown op %d", req.GetOp()))
	}
	res.DryRun = req.GetDryRun() && op != OpStatus
	known := map[string]bool{}
	for _, d := range m.reg.Databases() {
		known[d.Name()] = true
	}
	// Names exactly as the registry has them ("" the main database): the
	// node's policy authorized these names, and no other may take part.
	for _, n := range req.GetDatabases() {
		if !known[n] {
			return refuse(messages.Code_CODE_UNKNOWN_DATABASE, clipText(n), clipText(messages.DisplayName(n))+" is not a database of the registry")
		}
	}
	for _, t := range req.GetTenants() {
		if err := ident.Validate("tenant schema", t); err != nil {
			return refuse(messages.Code_CODE_INVALID_NAME, "", clipText(err.Error()))
		}
	}
	var opts []Option
	if req.To != nil {
		opts = append(opts, To(req.GetTo()))
	}
	if req.GetDryRun() {
		opts = append(opts, DryRun())
	}
	if len(req.GetDatabases()) > 0 {
		opts = append(opts, Databases(req.GetDatabases()...))
	}
	if len(req.GetTenants()) > 0 {
		opts = append(opts, Tenants(req.GetTenants()...))
	}
	if req.GetNoTenants() {
		opts = append(opts, NoTenants())
	}
	if req.GetStopOnError() {
		opts = append(opts, StopOnError())
	}
	rep, err := m.run(ctx, op, opts)
	if rep == nil {
		code := messages.CodeOf(err, messages.Code_CODE_INTERNAL)
		switch {
		case errors.Is(err, ErrInvalidArgument):
			code = messages.Code_CODE_INVALID_ARGUMENT
		case errors.Is(err, ErrLayout):
			code = messages.Code_CODE_INVALID_CONFIG
		}
		return refuse(code, "", clipText(fmt.Sprint(err)))
	}
	for _, r := range rep.Results {
		res.Sets = append(res.Sets, setOf(r))
	}
	fit(res, replyLimit(req.GetMaxBytes()))
	return res
}

// replyLimit is the most bytes of a reply: max_bytes, as a Query's.
func replyLimit(maxBytes uint64) int {
	if maxBytes == 0 {
		maxBytes = actors.DefaultMaxBytes
	}
	return int(min(maxBytes, actors.MaxBytesLimit))
}

// setOf is the protocol's form of one Result.
func setOf(r Result) *messages.MigrationSet {
	s := &messages.MigrationSet{Database: r.Database, Schema: r.Schema, Dir: r.Dir, Before: r.Before, Version: r.Version,
		Ran: infos(r.Ran), Migrations: infos(r.Migrations), Skipped: r.Skipped}
	for _, mg := range r.Migrations {
		if mg.State == Applied {
			s.Applied++
		} else {
			s.Pending++
		}
	}
	if r.Err == nil {
		return s
	}
	cause := r.Err
	var me *MigrationError
	if errors.As(r.Err, &me) {
		cause, s.FailedVersion, s.FailedSource = me.Err, me.Version, me.Source
	}
	s.Error = &messages.Error{Code: messages.CodeOf(cause, messages.Code_CODE_MIGRATION), Database: r.Database,
		Message: clipText(fmt.Sprint(cause))}
	var pg *pgconn.PgError
	if errors.As(cause, &pg) {
		s.Error.Sqlstate = pg.Code
	}
	return s
}

func infos(ms []Migration) []*messages.MigrationInfo {
	if len(ms) == 0 {
		return nil
	}
	out := make([]*messages.MigrationInfo, len(ms))
	for i, mg := range ms {
		out[i] = &messages.MigrationInfo{Version: mg.Version, Source: mg.Source, Applied: mg.State == Applied}
		if !mg.AppliedAt.IsZero() {
			out[i].AppliedAt = timestamppb.New(mg.AppliedAt)
		}
	}
	return out
}

func clipText(s string) string {
	if len(s) > maxErrorText {
		return s[:maxErrorText] + "…"
	}
	return s
}

// fit keeps res within limit bytes: it leaves out the sets' migrations
// lists, then their ran lists (Truncated), then whole sets from the end —
// successful ones first — counting them (OmittedSets, OmittedFailed).
// Counts, versions and failures of the sets kept stay.
func fit(res *messages.MigrateResult, limit int) {
	// Room for the fields fit itself sets.
	const reserve = 32
	if proto.Size(res) <= limit {
		return
	}
	res.Truncated = true
	for _, s := range res.GetSets() {
		s.Migrations = nil
	}
	if proto.Size(res)+reserve <= limit {
		return
	}
	for _, s := range res.GetSets() {
		s.Ran = nil
	}
	size := proto.Size(res) + reserve
	if size <= limit {
		return
	}
	drop := make([]bool, len(res.GetSets()))
	for _, failed := range []bool{false, true} {
		for i := len(res.GetSets()) - 1; i >= 0 && size > limit; i-- {
			s := res.GetSets()[i]
			if (s.GetError() != nil) != failed {
				continue
			}
			drop[i] = true
			size -= 1 + protowire.SizeBytes(proto.Size(s))
			res.OmittedSets++
			if failed {
				res.OmittedFailed++
			}
		}
	}
	kept := res.Sets[:0]
	for i, s := range res.GetSets() {
		if !drop[i] {
			kept = append(kept, s)
		}
	}
	res.Sets = kept
}
