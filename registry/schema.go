package registry

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/messages"
)

// SchemaOption adjusts CreateSchema and DropSchema.
type SchemaOption func(*schemaOptions)

type schemaOptions struct {
	ifNotExists, ifExists, cascade, withModels bool
	databases                                  []string
}

// IfNotExists makes CreateSchema succeed when the schema (or a table)
// exists already.
func IfNotExists() SchemaOption { return func(o *schemaOptions) { o.ifNotExists = true } }

// IfExists makes DropSchema succeed when the schema does not exist.
func IfExists() SchemaOption { return func(o *schemaOptions) { o.ifExists = true } }

// Cascade makes DropSchema drop everything in the schema; without it a
// schema that still holds tables is not dropped.
func Cascade() SchemaOption { return func(o *schemaOptions) { o.cascade = true } }

// WithModels makes CreateSchema create every registered model's table
// inside the new schema (models bound to a schema of their own are left
// alone): a tenant's tables in one call (Edgy's init_models=True).
func WithModels() SchemaOption { return func(o *schemaOptions) { o.withModels = true } }

// OnDatabases names the databases to act on, in order: "" is the main
// database, extras by name. Without it only the main database.
func OnDatabases(names ...string) SchemaOption {
	return func(o *schemaOptions) { o.databases = append(o.databases, names...) }
}

// SchemaError is a schema operation that failed on one database. It matches
// ErrSchema (or, when the dialect cannot do it, ErrUnsupported; a deadline,
// ErrTimeout; …: whatever Err matches).
type SchemaError struct {
	// Database is the database's name, "" for the main database.
	Database string
	// Schema is the schema the operation was about ("" for table-only work).
	Schema string
	// Op is "create schema", "drop schema", "create all", "drop all" or
	// "list schemas".
	Op string
	// Message is the server's message, e.g. `schema "t" already exists`.
	Message string
	// SQLState is PostgreSQL's error code (42P06 exists, 3F000 missing,
	// 2BP01 dependent objects), "" for SQLite.
	SQLState string
	// Err is the cause, a *messages.Error matching the sentinels.
	Err error
}

// Error names the database, the operation and the server's message.
func (e *SchemaError) Error() string {
	s := "dbactor: " + e.Op
	if e.Schema != "" {
		s += fmt.Sprintf(" %q", e.Schema)
	}
	return s + " on " + actors.DisplayName(e.Database) + ": " + e.Message
}

// Unwrap returns the cause.
func (e *SchemaError) Unwrap() error { return e.Err }

// CreateSchema creates schema on the main database (or those OnDatabases
// names), one database after the other, connecting each on demand: it works
// whether or not the registry is connected, and leaves every ref count as it
// found it. On SQLite a schema is a database file attached beside the main
// one, on every pooled connection. The name is quoted, never interpolated;
// an invalid one (empty, over 63 bytes, NUL) fails with ErrInvalidName
// before any SQL. A failure stops at the database that failed:
// *SchemaError, matching ErrSchema ("already exists" without IfNotExists).
func (r *Registry) CreateSchema(ctx context.Context, schema string, opts ...SchemaOption) error {
	build, err := createSchemaRequest(schema, opts)
	if err != nil {
		return err
	}
	return r.schemaCall(ctx, "create schema", schema, build)
}

// createSchemaRequest validates schema and builds its CreateSchema.
func createSchemaRequest(schema string, opts []SchemaOption) (func(*timestamppb.Timestamp) any, error) {
	var o schemaOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := ident.Validate("schema", schema); err != nil {
		return nil, err
	}
	return func(ts *timestamppb.Timestamp) any {
		return &messages.CreateSchema{Schema: schema, IfNotExists: o.ifNotExists, WithModels: o.withModels, Databases: o.databases, Deadline: ts}
	}, nil
}

// DropSchema drops schema like CreateSchema creates it. Without Cascade a
// schema that holds tables is not dropped ("dependent objects"); without
// IfExists a missing one fails ("does not exist").
func (r *Registry) DropSchema(ctx context.Context, schema string, opts ...SchemaOption) error {
	build, err := dropSchemaRequest(schema, opts)
	if err != nil {
		return err
	}
	return r.schemaCall(ctx, "drop schema", schema, build)
}

// dropSchemaRequest validates schema and builds its DropSchema.
func dropSchemaRequest(schema string, opts []SchemaOption) (func(*timestamppb.Timestamp) any, error) {
	var o schemaOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := ident.Validate("schema", schema); err != nil {
		return nil, err
	}
	return func(ts *timestamppb.Timestamp) any {
		return &messages.DropSchema{Schema: schema, Cascade: o.cascade, IfExists: o.ifExists, Databases: o.databases, Deadline: ts}
	}, nil
}

// CreateAll creates the registry schema (Config.Schema) if one is set, then
// every registered model's table, IF NOT EXISTS, on the databases named
// (default: the main database) — each database gets the models bound to it.
// Idempotent; connects on demand.
func (r *Registry) CreateAll(ctx context.Context, databases ...string) error {
	return r.schemaCall(ctx, "create all", r.Schema(), func(ts *timestamppb.Timestamp) any {
		return &messages.CreateAll{Databases: databases, Deadline: ts}
	})
}

// DropAll drops the registry schema with CASCADE — everything in it — if one
// is set, else the registered models' tables, IF EXISTS, on the databases
// named (default: the main database). Idempotent; connects on demand.
func (r *Registry) DropAll(ctx context.Context, databases ...string) error {
	return r.schemaCall(ctx, "drop all", r.Schema(), func(ts *timestamppb.Timestamp) any {
		return &messages.DropAll{Databases: databases, Deadline: ts}
	})
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
		return nil, unexpected(reply)
	}
	if e := l.GetError(); e != nil {
		return nil, schemaError("list schemas", "", e)
	}
	return l, nil
}

// jobCall sends a schema request; when ctx is cancelled first, the work is
// cancelled too (a PostgreSQL transaction rolls back), not left running.
func (r *Registry) jobCall(ctx context.Context, build func(*timestamppb.Timestamp) any) (any, error) {
	var msg any
	reply, err := r.call(ctx, r.pid, func(ts *timestamppb.Timestamp) any {
		msg = build(ts)
		r.plan.jobs.Store(msg, &jobCtl{})
		return msg
	}, nil)
	if msg != nil {
		if err != nil && ctx.Err() != nil {
			r.plan.cancelJob(msg) // the job deletes it when it ends
		} else {
			r.plan.jobs.Delete(msg) // answered: the job has ended, or never ran
		}
	}
	return reply, err
}

func (r *Registry) schemaCall(ctx context.Context, op, schema string, build func(*timestamppb.Timestamp) any) error {
	reply, err := r.jobCall(ctx, build)
	return schemaOutcome(op, schema, reply, err)
}

// schemaOutcome is a schema request's error, from its reply or from the
// failure to get one.
func schemaOutcome(op, schema string, reply any, err error) error {
	if err != nil {
		return &SchemaError{Op: op, Schema: schema, Message: err.Error(), Err: err}
	}
	res, ok := reply.(*messages.SchemaResult)
	if !ok {
		return unexpected(reply)
	}
	var errs []error
	for _, e := range res.GetErrors() {
		errs = append(errs, schemaError(op, schema, e))
	}
	return errors.Join(errs...)
}

// schemaError wraps a reply's error; the name problems and unknown
// databases a request is refused for stay what they are.
func schemaError(op, schema string, e *messages.Error) error {
	switch e.GetCode() {
	case messages.Code_CODE_INVALID_NAME, messages.Code_CODE_UNKNOWN_DATABASE, messages.Code_CODE_CLOSED, messages.Code_CODE_INVALID_ARGUMENT:
		return e
	}
	return &SchemaError{Database: e.GetDatabase(), Schema: schema, Op: op, Message: e.GetMessage(), SQLState: e.GetSqlstate(), Err: e}
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
