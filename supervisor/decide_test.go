package supervisor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/messages"
)

func fail(db string, code messages.Code) *messages.Error {
	return &messages.Error{Code: code, Database: db, Message: db + " failed"}
}

func TestPlanRollback(t *testing.T) {
	ok := func(db string) Outcome { return Outcome{Database: db, Changed: true} }
	bad := func(db string) Outcome {
		return Outcome{Database: db, Err: fail(db, messages.Code_CODE_CONNECT_FAILED)}
	}
	tests := []struct {
		name     string
		outcomes []Outcome
		expired  bool
		want     []int
	}{
		{"all succeed: nothing to undo", []Outcome{ok(""), ok("a"), ok("b")}, false, nil},
		{"no databases", nil, false, nil},
		{"one extra fails: undo the others, latest first", []Outcome{ok(""), bad("a"), ok("b")}, false, []int{2, 0}},
		{"main fails: undo every extra", []Outcome{bad(""), ok("a"), ok("b")}, false, []int{2, 1}},
		{"all fail: nothing holds a count", []Outcome{bad(""), bad("a")}, false, nil},
		{"expired with all succeeded: undo all", []Outcome{ok(""), ok("a")}, true, []int{1, 0}},
		{"an unchanged success (count only) is undone too", []Outcome{{Database: ""}, bad("a")}, false, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, PlanRollback(tt.outcomes, tt.expired))
		})
	}
}

func TestConnectReply(t *testing.T) {
	t.Run("success reports whether any pool opened", func(t *testing.T) {
		r := ConnectReply([]Outcome{{Database: ""}, {Database: "a", Changed: true}}, false, nil)
		require.Empty(t, r.GetErrors())
		require.True(t, r.GetOpened())
		r = ConnectReply([]Outcome{{Database: ""}, {Database: "a"}}, false, nil)
		require.False(t, r.GetOpened())
	})
	t.Run("errors in member order, then rollback errors", func(t *testing.T) {
		outcomes := []Outcome{
			{Database: "", Err: fail("", messages.Code_CODE_CONNECT_FAILED)},
			{Database: "a", Changed: true},
			{Database: "b", Err: fail("b", messages.Code_CODE_TIMEOUT)},
			{Database: "c", Changed: true},
		}
		rollback := []Outcome{
			{Database: "c", Changed: true},
			{Database: "a", Err: &messages.Error{Code: messages.Code_CODE_DISCONNECT_FAILED, Database: "a", Message: "boom", Sqlstate: "57P01"}},
		}
		r := ConnectReply(outcomes, false, rollback)
		require.False(t, r.GetOpened())
		require.Len(t, r.GetErrors(), 3)
		require.Equal(t, "", r.GetErrors()[0].GetDatabase())
		require.Equal(t, messages.Code_CODE_CONNECT_FAILED, r.GetErrors()[0].GetCode())
		require.Equal(t, "b", r.GetErrors()[1].GetDatabase())
		require.Equal(t, messages.Code_CODE_TIMEOUT, r.GetErrors()[1].GetCode())
		require.Equal(t, "a", r.GetErrors()[2].GetDatabase())
		require.Equal(t, messages.Code_CODE_ROLLBACK_FAILED, r.GetErrors()[2].GetCode())
		require.Equal(t, "rollback: boom", r.GetErrors()[2].GetMessage())
		require.Equal(t, "57P01", r.GetErrors()[2].GetSqlstate())
	})
	t.Run("expired: every rolled back success is a timeout", func(t *testing.T) {
		r := ConnectReply([]Outcome{{Database: "", Changed: true}, {Database: "a"}}, true, []Outcome{{Database: "a"}, {Database: ""}})
		require.False(t, r.GetOpened())
		require.Len(t, r.GetErrors(), 2)
		for i, db := range []string{"", "a"} {
			require.Equal(t, db, r.GetErrors()[i].GetDatabase())
			require.Equal(t, messages.Code_CODE_TIMEOUT, r.GetErrors()[i].GetCode())
		}
	})
}

func TestDisconnectReply(t *testing.T) {
	r := DisconnectReply([]Outcome{{Database: "", Changed: true}, {Database: "a", Changed: true}})
	require.True(t, r.GetClosed())
	require.Empty(t, r.GetErrors())

	r = DisconnectReply([]Outcome{{Database: "", Changed: true}, {Database: "a"}})
	require.False(t, r.GetClosed(), "one database still counted: not every database closed")

	r = DisconnectReply([]Outcome{
		{Database: "", Err: fail("", messages.Code_CODE_HOOK_FAILED), Changed: true},
		{Database: "a", Err: fail("a", messages.Code_CODE_DISCONNECT_FAILED)},
	})
	require.Len(t, r.GetErrors(), 2)
	require.Equal(t, "", r.GetErrors()[0].GetDatabase())
	require.Equal(t, "a", r.GetErrors()[1].GetDatabase())

	require.False(t, DisconnectReply(nil).GetClosed())
}

func TestChildName(t *testing.T) {
	require.Equal(t, "db-main", ChildName(""))
	names := []string{"", "main", "db-main", "a/b", "a%2Fb", "a b", " a", "x-main", "é", "default", "../up", "a:b"}
	seen := map[string]string{}
	for _, n := range names {
		c := ChildName(n)
		require.NotContains(t, c, "/", "child names must not look like actor paths")
		if prev, dup := seen[c]; dup {
			t.Fatalf("ChildName(%q) == ChildName(%q) == %q", n, prev, c)
		}
		seen[c] = n
	}
}

func TestSharedReleased(t *testing.T) {
	members := []Member{{Name: "", Owned: true}, {Name: "s"}}
	bad := func(c messages.Code) []Outcome { return []Outcome{{}, {Database: "s", Err: fail("s", c)}} }
	require.True(t, SharedReleased(members, []Outcome{{}, {Database: "s"}}))
	require.True(t, SharedReleased(members, bad(messages.Code_CODE_HOOK_FAILED)), "the count went down before the hook")
	require.True(t, SharedReleased(members, bad(messages.Code_CODE_CLOSED)), "a closed database holds nothing")
	require.False(t, SharedReleased(members, bad(messages.Code_CODE_TIMEOUT)))
	require.False(t, SharedReleased(members, bad(messages.Code_CODE_CANCELED)))
	require.False(t, SharedReleased(members, bad(messages.Code_CODE_INTERNAL)))
	require.True(t, SharedReleased(members, []Outcome{{Err: fail("", messages.Code_CODE_TIMEOUT)}, {Database: "s"}}),
		"owned databases do not count")
}
