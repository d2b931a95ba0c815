package messages_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/messages"
)

func TestErrorMatchesItsSentinel(t *testing.T) {
	for code := range messages.Code_name {
		c := messages.Code(code)
		e := &messages.Error{Code: c, Message: "m"}
		require.ErrorIs(t, e, c.Sentinel(), c.String())
		want := c
		if c == messages.Code_CODE_UNSPECIFIED {
			want = messages.Code_CODE_INTERNAL // a peer that set no code hit a bug
		}
		require.Equal(t, want, messages.CodeOf(fmt.Errorf("wrapped: %w", e), messages.Code_CODE_UNSPECIFIED))
		for other := range messages.Code_name {
			if o := messages.Code(other); o.Sentinel() != c.Sentinel() {
				require.NotErrorIs(t, e, o.Sentinel(), "%s must not match %s", c, o)
			}
		}
	}
	require.ErrorIs(t, &messages.Error{Code: messages.Code_CODE_TIMEOUT}, context.DeadlineExceeded)
	require.ErrorIs(t, &messages.Error{Code: messages.Code_CODE_CANCELED}, context.Canceled)
	require.Equal(t, "dbactor: closed", (&messages.Error{Code: messages.Code_CODE_CLOSED}).Error())
	require.ErrorIs(t, messages.Code(999).Sentinel(), messages.ErrInternal, "unknown codes from newer peers")
}

func TestCodeOf(t *testing.T) {
	require.Equal(t, messages.Code_CODE_TIMEOUT, messages.CodeOf(context.DeadlineExceeded, messages.Code_CODE_INTERNAL))
	require.Equal(t, messages.Code_CODE_CANCELED, messages.CodeOf(context.Canceled, messages.Code_CODE_INTERNAL))
	require.Equal(t, messages.Code_CODE_CLOSED, messages.CodeOf(fmt.Errorf("x: %w", messages.ErrClosed), messages.Code_CODE_INTERNAL))
	require.Equal(t, messages.Code_CODE_CONNECT_FAILED, messages.CodeOf(errors.New("other"), messages.Code_CODE_CONNECT_FAILED))
}

func TestJoin(t *testing.T) {
	require.NoError(t, messages.Join(nil))
	err := messages.Join([]*messages.Error{{Code: messages.Code_CODE_TIMEOUT, Database: "a"}, {Code: messages.Code_CODE_HOOK_FAILED}})
	require.ErrorIs(t, err, messages.ErrTimeout)
	require.ErrorIs(t, err, messages.ErrHookFailed)
	var e *messages.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "a", e.GetDatabase())
}

// Every protocol message survives the protobuf wire format: what remote needs.
func TestMessagesRoundTrip(t *testing.T) {
	e := &messages.Error{Code: messages.Code_CODE_CONNECT_FAILED, Message: "refused", Database: "x", Sqlstate: "08006"}
	ts := timestamppb.Now()
	for _, m := range []proto.Message{
		&messages.Connect{Target: &messages.Target{Database: ""}, Deadline: ts},
		&messages.ConnectResult{Opened: true, Errors: []*messages.Error{e}},
		&messages.Disconnect{Target: &messages.Target{Database: "x"}, Force: true, Deadline: ts},
		&messages.DisconnectResult{Closed: true, Errors: []*messages.Error{e}},
		&messages.GetStatus{},
		&messages.Status{Database: "x", Connected: true, RefCount: 3, Dialect: "postgres", RedactedUrl: "postgres://u:xxxxx@h/db", Error: e},
		&messages.ListDatabases{},
		&messages.DatabaseList{Databases: []*messages.Status{{Database: "x"}}, Error: e},
	} {
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		back := m.ProtoReflect().New().Interface()
		require.NoError(t, proto.Unmarshal(b, back))
		require.True(t, proto.Equal(m, back), "%T", m)
	}
	// Presence of Target survives: an empty Target (the main database) is not
	// "no target" (every database).
	b, _ := proto.Marshal(&messages.Connect{Target: &messages.Target{}})
	var c messages.Connect
	require.NoError(t, proto.Unmarshal(b, &c))
	require.NotNil(t, c.GetTarget())
}

// Migrate's target keeps its presence across the wire: To(0) (roll back
// everything) is not "no target" (one migration per set).
func TestMigrateTargetPresence(t *testing.T) {
	zero := int64(0)
	b, err := proto.Marshal(&messages.Migrate{Op: messages.MigrateOp_MIGRATE_OP_DOWN, To: &zero})
	require.NoError(t, err)
	var m messages.Migrate
	require.NoError(t, proto.Unmarshal(b, &m))
	require.NotNil(t, m.To)
	require.Zero(t, m.GetTo())
	b, err = proto.Marshal(&messages.Migrate{Op: messages.MigrateOp_MIGRATE_OP_DOWN})
	require.NoError(t, err)
	m = messages.Migrate{}
	require.NoError(t, proto.Unmarshal(b, &m))
	require.Nil(t, m.To)
	// A failed Migrate is answered with its own reply type.
	r, ok := messages.FailedReply(&messages.Migrate{Op: messages.MigrateOp_MIGRATE_OP_UP, DryRun: true}, &messages.Error{Code: messages.Code_CODE_CLOSED}).(*messages.MigrateResult)
	require.True(t, ok)
	require.Equal(t, messages.MigrateOp_MIGRATE_OP_UP, r.GetOp())
	require.ErrorIs(t, r.GetError(), messages.ErrClosed)
}
