package registry

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/internal/ops"
	"github.com/dbactor/dbactor/internal/regactor"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
)

// SchemaOption adjusts CreateSchema and DropSchema.
type SchemaOption = client.SchemaOption

// IfNotExists makes CreateSchema succeed when the schema (or a table)
// exists already.
func IfNotExists() SchemaOption { return client.IfNotExists() }

// IfExists makes DropSchema succeed when the schema does not exist.
func IfExists() SchemaOption { return client.IfExists() }

// Cascade makes DropSchema drop everything in the schema; without it a
// schema that still holds tables is not dropped.
func Cascade() SchemaOption { return client.Cascade() }

// WithModels makes CreateSchema create every registered model's table
// inside the new schema (models bound to a schema of their own are left
// alone): a tenant's tables in one call (Edgy's init_models=True).
func WithModels() SchemaOption { return client.WithModels() }

// OnDatabases names the databases to act on, in order: "" is the main
// database, extras by name. Without it only the main database.
func OnDatabases(names ...string) SchemaOption { return client.OnDatabases(names...) }

// CreateSchema creates schema on the main database (or those OnDatabases
// names), one database after the other, connecting each on demand: it works
// whether or not the registry is connected, and leaves every ref count as it
// found it. On SQLite a schema is a database file attached beside the main
// one, on every pooled connection. The name is quoted, never interpolated;
// an invalid one (empty, over 63 bytes, NUL) fails with ErrInvalidName
// before any SQL. A failure stops at the database that failed:
// *SchemaError, matching ErrSchema ("already exists" without IfNotExists).
func (r *Registry) CreateSchema(ctx context.Context, schema string, opts ...SchemaOption) error {
	return r.job(ctx, ops.CreateSchema(schema, client.SchemaOptions(opts...)))
}

// DropSchema drops schema like CreateSchema creates it. Without Cascade a
// schema that holds tables is not dropped ("dependent objects"); without
// IfExists a missing one fails ("does not exist").
func (r *Registry) DropSchema(ctx context.Context, schema string, opts ...SchemaOption) error {
	return r.job(ctx, ops.DropSchema(schema, client.SchemaOptions(opts...)))
}

// CreateAll creates the registry schema (Config.Schema) if one is set, then
// every registered model's table, IF NOT EXISTS, on the databases named
// (default: the main database) — each database gets the models bound to it.
// Idempotent; connects on demand.
func (r *Registry) CreateAll(ctx context.Context, databases ...string) error {
	return r.job(ctx, ops.Schema("create all", r.Schema(), nil, func(ts *timestamppb.Timestamp) any {
		return &messages.CreateAll{Databases: databases, Deadline: ts}
	}))
}

// DropAll drops the registry schema with CASCADE — everything in it — if one
// is set, else the registered models' tables, IF EXISTS, on the databases
// named (default: the main database). Idempotent; connects on demand.
func (r *Registry) DropAll(ctx context.Context, databases ...string) error {
	return r.job(ctx, ops.Schema("drop all", r.Schema(), nil, func(ts *timestamppb.Timestamp) any {
		return &messages.DropAll{Databases: databases, Deadline: ts}
	}))
}

// DefaultSchema is the schema unqualified names resolve to on database (""
// is the main database): current_schema() on PostgreSQL (normally
// "public"), "main" on SQLite. Connects on demand.
func (r *Registry) DefaultSchema(ctx context.Context, database string) (string, error) {
	l, err := r.schemas(ctx, database)
	return l.GetDefaultSchema(), err
}

// Schemas lists the schemas that exist on database, sorted (PostgreSQL's
// pg_* schemas and information_schema left out; SQLite's "main" first, then
// its attached schemas). Connects on demand.
func (r *Registry) Schemas(ctx context.Context, database string) ([]string, error) {
	l, err := r.schemas(ctx, database)
	return l.GetSchemas(), err
}

func (r *Registry) schemas(ctx context.Context, database string) (*messages.SchemaList, error) {
	reply, err := r.jobCall(ctx, func(ts *timestamppb.Timestamp) any {
		return &messages.GetSchemas{Target: &messages.Target{Database: database}, Deadline: ts}
	})
	if err != nil {
		return nil, &SchemaError{Database: database, Op: "list schemas", Message: err.Error(), Err: err}
	}
	l, ok := reply.(*messages.SchemaList)
	if !ok {
		return nil, request.Unexpected(reply)
	}
	if e := l.GetError(); e != nil {
		return nil, ops.SchemaErr("list schemas", "", e)
	}
	return l, nil
}

// jobCall sends a schema request; when ctx is cancelled first, the work is
// cancelled too (a PostgreSQL transaction rolls back), not left running.
func (r *Registry) jobCall(ctx context.Context, build func(*timestamppb.Timestamp) any) (any, error) {
	var msg any
	reply, err := r.caller.Call(ctx, r.pid, func(ts *timestamppb.Timestamp) any {
		msg = build(ts)
		return msg
	}, nil)
	if msg != nil && err != nil && ctx.Err() != nil {
		r.caller.System.Root.Send(r.pid, &regactor.CancelJob{Key: msg})
	}
	return reply, err
}

// job runs a schema request answered with a SchemaResult.
func (r *Registry) job(ctx context.Context, op ops.Op[struct{}]) error {
	if op.Refused != nil {
		return op.Refused
	}
	_, err := op.Read(r.jobCall(ctx, op.Build))
	return err
}

// QualifiedTable is the quoted, schema-qualified name of a table, for
// queries against a tenant schema (Edgy's using(schema=…)):
// QualifiedTable("tenant_a", "users") is "tenant_a"."users"; an empty
// schema leaves the name unqualified. Both names must be valid (see
// CreateSchema); use Model.QualifiedTable for a model's table.
func QualifiedTable(schema, table string) (string, error) {
	if schema != "" {
		if err := ident.Validate("schema", schema); err != nil {
			return "", err
		}
	}
	if err := ident.Validate("table", table); err != nil {
		return "", err
	}
	return ident.Quote(schema, table), nil
}
