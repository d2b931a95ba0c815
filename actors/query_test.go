package actors_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/sqlvalue"
	"github.com/dbactor/dbactor/messages"
)

// Query and Exec on the database actor itself (the registry tests cover
// both dialects end to end).
func TestQueryAndExec(t *testing.T) {
	t.Parallel()
	sys, s := spawn(t, actors.Hooks{})
	pid := s.PID()

	// Not connected: refused, naming the database and the fix.
	q := ask(t, sys, pid, &messages.Query{Sql: "SELECT 1"}).(*messages.QueryResult)
	require.ErrorIs(t, q.GetError(), messages.ErrNotConnected)
	require.Contains(t, q.GetError().GetMessage(), `database "a" is not connected: connect it first`)
	require.Equal(t, "a", q.GetError().GetDatabase())
	e := ask(t, sys, pid, &messages.Exec{Sql: "SELECT 1"}).(*messages.ExecResult)
	require.ErrorIs(t, e.GetError(), messages.ErrNotConnected)

	require.Empty(t, ask(t, sys, pid, &messages.Connect{}).(*messages.ConnectResult).GetErrors())

	e = ask(t, sys, pid, &messages.Exec{Sql: "CREATE TABLE t (n INTEGER, s TEXT)"}).(*messages.ExecResult)
	require.Nil(t, e.GetError())
	args, err := sqlvalue.FromGoArgs(1, "one")
	require.NoError(t, err)
	e = ask(t, sys, pid, &messages.Exec{Sql: "INSERT INTO t VALUES (?, ?), (2, 'two'), (3, 'three')", Args: args}).(*messages.ExecResult)
	require.Nil(t, e.GetError())
	require.EqualValues(t, 3, e.GetRowsAffected())

	q = ask(t, sys, pid, &messages.Query{Sql: "SELECT n, s FROM t WHERE n >= ? ORDER BY n", Args: []*messages.Value{sqlvalue.Int(2)}}).(*messages.QueryResult)
	require.Nil(t, q.GetError())
	require.Equal(t, []string{"n:INTEGER", "s:TEXT"}, []string{
		q.GetColumns()[0].GetName() + ":" + q.GetColumns()[0].GetType(), q.GetColumns()[1].GetName() + ":" + q.GetColumns()[1].GetType()})
	require.Len(t, q.GetRows(), 2)
	require.EqualValues(t, 3, q.GetRows()[1].GetValues()[0].GetInt())
	require.Equal(t, "three", q.GetRows()[1].GetValues()[1].GetText())

	// Exactly max_rows rows is fine; one more is not.
	q = ask(t, sys, pid, &messages.Query{Sql: "SELECT n FROM t", MaxRows: 3}).(*messages.QueryResult)
	require.Nil(t, q.GetError())
	q = ask(t, sys, pid, &messages.Query{Sql: "SELECT n FROM t", MaxRows: 2}).(*messages.QueryResult)
	require.ErrorIs(t, q.GetError(), messages.ErrLimitExceeded)
	require.Contains(t, q.GetError().GetMessage(), "max_rows=2")
	require.Empty(t, q.GetRows())
	q = ask(t, sys, pid, &messages.Query{Sql: "SELECT s FROM t", MaxBytes: 8}).(*messages.QueryResult)
	require.ErrorIs(t, q.GetError(), messages.ErrLimitExceeded)
	require.Contains(t, q.GetError().GetMessage(), "max_bytes=8")

	// Malformed requests.
	for _, msg := range []any{
		&messages.Query{Sql: "  "},
		&messages.Exec{},
		&messages.Exec{Sql: "INSERT INTO t VALUES (?, ?)", Args: []*messages.Value{sqlvalue.Int(4), sqlvalue.NumericValue("4,5")}},
		&messages.Query{Sql: "SELECT ?", Args: []*messages.Value{sqlvalue.JSON("{")}},
	} {
		var got *messages.Error
		switch r := ask(t, sys, pid, msg).(type) {
		case *messages.QueryResult:
			got = r.GetError()
		case *messages.ExecResult:
			got = r.GetError()
		}
		require.ErrorIs(t, got, messages.ErrInvalidArgument, "%v", msg)
	}
	q = ask(t, sys, pid, &messages.Query{Sql: "SELECT 1", Deadline: deadline.Proto(time.Now().Add(-time.Second))}).(*messages.QueryResult)
	require.ErrorIs(t, q.GetError(), messages.ErrTimeout)

	// A server error: the server's message.
	q = ask(t, sys, pid, &messages.Query{Sql: "SELECT * FROM missing"}).(*messages.QueryResult)
	require.ErrorIs(t, q.GetError(), messages.ErrQuery)
	require.Contains(t, q.GetError().GetMessage(), "no such table: missing")

	// Closed for good: refused.
	s.Shutdown()
	q = ask(t, sys, pid, &messages.Query{Sql: "SELECT 1"}).(*messages.QueryResult)
	require.ErrorIs(t, q.GetError(), messages.ErrClosed)
}
