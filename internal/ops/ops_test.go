package ops_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/ops"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
)

func e(code messages.Code, db string) *messages.Error {
	return &messages.Error{Code: code, Database: db, Message: "boom"}
}

// Every failure of a registry-wide connect is one *ConnectError, in reply
// order; a rollback failure is a *DisconnectError.
func TestConnectAllReadsEveryFailure(t *testing.T) {
	_, err := ops.ConnectAll(nil).Read(&messages.ConnectResult{Errors: []*messages.Error{
		e(messages.Code_CODE_CONNECT_FAILED, ""),
		e(messages.Code_CODE_TIMEOUT, "x"),
		e(messages.Code_CODE_ROLLBACK_FAILED, "y"),
	}}, nil)
	var ce *messages.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "", ce.Database)
	require.ErrorIs(t, err, messages.ErrConnectFailed)
	require.ErrorIs(t, err, messages.ErrTimeout)
	var de *messages.DisconnectError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "y", de.Database)
	require.ErrorIs(t, err, messages.ErrRollbackFailed)
	require.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), 3)

	opened, err := ops.ConnectAll(nil).Read(&messages.ConnectResult{Opened: true}, nil)
	require.NoError(t, err)
	require.True(t, opened)
}

func TestReadsAFailureToGetAReply(t *testing.T) {
	failed := request.Err(request.ErrNoActor)
	_, err := ops.ConnectAll(nil).Read(nil, failed)
	require.ErrorIs(t, err, messages.ErrClosed)
	require.Contains(t, err.Error(), "dbactor: connect: ")

	_, err = ops.Connect("x", nil, nil).Read(nil, failed)
	var ce *messages.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "x", ce.Database)

	_, err = ops.Disconnect("x", nil, false, nil).Read(nil, failed)
	var de *messages.DisconnectError
	require.ErrorAs(t, err, &de)

	_, err = ops.Status("x", nil).Read(nil, failed)
	require.ErrorIs(t, err, messages.ErrClosed)
	require.Contains(t, err.Error(), `status of database "x"`)

	_, err = ops.CreateSchema("s", &messages.SchemaOptions{}).Read(nil, failed)
	var se *messages.SchemaError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "create schema", se.Op)
	require.Equal(t, "s", se.Schema)
}

func TestUnexpectedReply(t *testing.T) {
	for name, read := range map[string]func() error{
		"connect all":    func() error { _, err := ops.ConnectAll(nil).Read("?", nil); return err },
		"disconnect all": func() error { _, err := ops.DisconnectAll(nil).Read("?", nil); return err },
		"connect":        func() error { _, err := ops.Connect("", nil, nil).Read("?", nil); return err },
		"disconnect":     func() error { _, err := ops.Disconnect("", nil, true, nil).Read("?", nil); return err },
		"status":         func() error { _, err := ops.Status("", nil).Read("?", nil); return err },
		"list":           func() error { _, err := ops.List().Read("?", nil); return err },
		"callback":       func() error { _, err := ops.RegisterCallback(nil).Read("?", nil); return err },
		"schema":         func() error { _, err := ops.DropSchema("s", &messages.SchemaOptions{}).Read("?", nil); return err },
	} {
		require.ErrorIs(t, read(), messages.ErrInternal, name)
	}
}

// A shared database's actor knows only its owner's name for it: replies
// are relabelled with the caller's.
func TestConnectRelabels(t *testing.T) {
	_, err := ops.Connect("mine", nil, nil).Read(&messages.ConnectResult{Errors: []*messages.Error{e(messages.Code_CODE_CONNECT_FAILED, "theirs")}}, nil)
	var ce *messages.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "mine", ce.Database)
	var me *messages.Error
	require.ErrorAs(t, err, &me)
	require.Equal(t, "mine", me.GetDatabase())

	st, err := ops.Status("mine", nil).Read(&messages.Status{Database: "theirs", RefCount: 2}, nil)
	require.NoError(t, err)
	require.Equal(t, "mine", st.GetDatabase())
	require.EqualValues(t, 2, st.GetRefCount())
}

// A bad schema name is refused before anything is sent; the refusals a
// registry answers with stay what they are, the rest are *SchemaErrors.
func TestSchemaErrors(t *testing.T) {
	require.ErrorIs(t, ops.CreateSchema("", &messages.SchemaOptions{}).Refused, messages.ErrInvalidName)
	require.NoError(t, ops.DropSchema("ok", &messages.SchemaOptions{}).Refused)

	for _, code := range []messages.Code{messages.Code_CODE_INVALID_NAME, messages.Code_CODE_UNKNOWN_DATABASE, messages.Code_CODE_CLOSED, messages.Code_CODE_INVALID_ARGUMENT} {
		err := ops.SchemaErr("drop schema", "s", e(code, "x"))
		var se *messages.SchemaError
		require.False(t, errors.As(err, &se), code.String())
		require.ErrorIs(t, err, code.Sentinel())
	}
	err := ops.SchemaErr("drop schema", "s", &messages.Error{Code: messages.Code_CODE_SCHEMA, Database: "x", Message: "dependent objects", Sqlstate: "2BP01"})
	var se *messages.SchemaError
	require.ErrorAs(t, err, &se)
	require.Equal(t, messages.SchemaError{Database: "x", Schema: "s", Op: "drop schema", Message: "dependent objects", SQLState: "2BP01", Err: se.Err}, *se)
	require.Equal(t, `dbactor: drop schema "s" on database "x": dependent objects`, err.Error())

	_, err = ops.CreateSchema("s", &messages.SchemaOptions{}).Read(&messages.SchemaResult{}, nil)
	require.NoError(t, err)
}

func TestSchemaOptionsBuildRequests(t *testing.T) {
	o := &messages.SchemaOptions{IfNotExists: true, IfExists: true, Cascade: true, WithModels: true, Databases: []string{"", "x"}}
	c := ops.CreateSchema("s", o).Build(nil).(*messages.CreateSchema)
	require.True(t, c.GetIfNotExists())
	require.True(t, c.GetWithModels())
	require.Equal(t, []string{"", "x"}, c.GetDatabases())
	d := ops.DropSchema("s", o).Build(nil).(*messages.DropSchema)
	require.True(t, d.GetCascade())
	require.True(t, d.GetIfExists())
	require.Equal(t, "s", d.GetSchema())
}

// A Migrate reply reads as its refusal alone, or as one *MigrationError per
// failed set (and one more error for failed sets the reply left out).
func TestMigrateReadsEverySet(t *testing.T) {
	op := ops.Migrate(nil, func(*timestamppb.Timestamp) *messages.Migrate { return &messages.Migrate{} })

	r, err := op.Read(&messages.MigrateResult{Error: e(messages.Code_CODE_PERMISSION_DENIED, "")}, nil)
	require.Nil(t, r)
	require.ErrorIs(t, err, messages.ErrPermissionDenied)
	require.NotErrorIs(t, err, messages.ErrMigration)

	reply := &messages.MigrateResult{Op: messages.MigrateOp_MIGRATE_OP_UP, Sets: []*messages.MigrationSet{
		{Database: "", Version: 2},
		{Database: "", Schema: "t", Version: 1, FailedVersion: 2, FailedSource: "00002_x.sql", Error: &messages.Error{Code: messages.Code_CODE_MIGRATION, Message: "syntax", Sqlstate: "42601"}},
		{Database: "a", Error: e(messages.Code_CODE_TIMEOUT, "a")},
	}, OmittedFailed: 2}
	r, err = op.Read(reply, nil)
	require.Same(t, reply, r)
	require.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), 3)
	var me *messages.MigrationError
	require.ErrorAs(t, err, &me)
	require.Equal(t, messages.MigrationError{Schema: "t", Version: 2, Source: "00002_x.sql", Op: "up", Err: reply.Sets[1].Error}, *me)
	require.Equal(t, `dbactor: migrate up on main database, tenant "t", version 2 (00002_x.sql): syntax`, me.Error())
	require.ErrorIs(t, err, messages.ErrMigration)
	require.ErrorIs(t, err, messages.ErrTimeout)
	require.Contains(t, err.Error(), "2 more failed sets")
	require.NoError(t, ops.MigrationErr(reply.Op, reply.Sets[0]))

	_, err = op.Read(nil, request.Err(request.ErrNoActor))
	require.ErrorIs(t, err, messages.ErrClosed)
	require.Contains(t, err.Error(), "dbactor: migrate: ")
}
