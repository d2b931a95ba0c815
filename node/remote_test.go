package node_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// dialectCase is what differs between the dialects in TestRemoteCalls.
type dialectCase struct {
	dialect     client.Dialect
	main, extra string // DSNs
	// schemaCount counts the schemas named by its one argument.
	schemaCount string
	createTable string
	insert      string
	selectRow   string
}

// TestRemoteCalls makes every call of a client.Client against a
// database node in another process, on SQLite and on PostgreSQL.
func TestRemoteCalls(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		if !testnode.Isolate(t) {
			return
		}
		dir := t.TempDir()
		remoteCalls(t, dialectCase{
			dialect:     client.SQLite,
			main:        sqliteDSN(dir, "main"),
			extra:       sqliteDSN(dir, extraName),
			schemaCount: `SELECT count(*) FROM pragma_database_list WHERE name = ?`,
			createTable: `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price DECIMAL(10,2), active BOOLEAN,
				ratio REAL, data BLOB, created TIMESTAMP, meta JSON, note TEXT)`,
			insert:    `INSERT INTO items (id, name, price, active, ratio, data, created, meta, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			selectRow: `SELECT id, name, price, active, ratio, data, created, meta, note FROM items WHERE id = ?`,
		})
	})
	t.Run("postgres", func(t *testing.T) {
		if !testnode.Isolate(t) {
			return
		}
		main := testdb.NewPostgresDatabase(t)
		extra := testdb.NewPostgresDatabase(t)
		remoteCalls(t, dialectCase{
			dialect:     client.Postgres,
			main:        main,
			extra:       extra,
			schemaCount: `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`,
			createTable: `CREATE TABLE items (id bigint PRIMARY KEY, name text, price numeric(10,2), active boolean,
				ratio double precision, data bytea, created timestamptz, meta jsonb, note text)`,
			insert:    `INSERT INTO items (id, name, price, active, ratio, data, created, meta, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			selectRow: `SELECT id, name, price, active, ratio, data, created, meta, note FROM items WHERE id = $1`,
		})
	})
}

func remoteCalls(t *testing.T, dc dialectCase) {
	child, addr := startDBChild(t, envDSN+"="+dc.main, envExtraDSN+"="+dc.extra)
	n, closeNode := startClientNode(t)
	cl := attach(t, n, addr)
	ctx := testCtx(t, 2*time.Minute)
	main, extra := cl.Database(), cl.Extra(extraName)

	// counts checks the refcounts on the server, seen through the client
	// (Status of each database, and Databases), and as the child sees them.
	counts := func(wantMain, wantExtra int) {
		t.Helper()
		for _, c := range []struct {
			db   *client.RemoteDatabase
			want int
		}{{main, wantMain}, {extra, wantExtra}} {
			st, err := c.db.Status(ctx)
			require.NoError(t, err)
			require.Equal(t, c.db.Name(), st.Database)
			require.Equal(t, c.want, st.RefCount, "refcount of %q", c.db.Name())
			require.Equal(t, c.want > 0, st.Connected, "connected of %q", c.db.Name())
			require.Equal(t, dc.dialect, st.Dialect)
		}
		dbs, err := cl.Databases(ctx)
		require.NoError(t, err)
		require.Len(t, dbs, 2)
		require.Equal(t, "", dbs[0].Database)
		require.Equal(t, extraName, dbs[1].Database)
		require.Equal(t, wantMain, dbs[0].RefCount)
		require.Equal(t, wantExtra, dbs[1].RefCount)
	}

	t.Run("databases before connect", func(t *testing.T) {
		counts(0, 0)
		require.Equal(t, "main=0 analytics=0", child.Call("status"))
	})

	t.Run("connect", func(t *testing.T) {
		require.NoError(t, cl.Connect(ctx))
		counts(1, 1)
		opened, err := extra.Connect(ctx)
		require.NoError(t, err)
		require.False(t, opened, "the extra database was open already")
		counts(1, 2)
		require.Equal(t, "main=1 analytics=2", child.Call("status"))
		st, err := main.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, client.Healthy, st.Health)
		require.NotContains(t, st.URL, "password")
	})

	t.Run("unknown database", func(t *testing.T) {
		nope := cl.Extra("nope")
		_, err := nope.Status(ctx)
		require.ErrorIs(t, err, registry.ErrUnknownDatabase)
		_, err = nope.Connect(ctx)
		require.ErrorIs(t, err, registry.ErrUnknownDatabase)
		_, err = nope.Query(ctx, "SELECT 1")
		require.ErrorIs(t, err, registry.ErrUnknownDatabase)
		counts(1, 2)
	})

	t.Run("invalid schema name is refused before sending", func(t *testing.T) {
		// A client of a registry that does not exist: anything sent would
		// come back as a dead letter (ErrClosed).
		ghost, err := client.Attach(n.System, actor.NewPID(n.Address(), "no-such-registry"))
		require.NoError(t, err)
		defer func() { require.NoError(t, ghost.Close(ctx)) }()
		for _, c := range []*client.Client{ghost, cl} {
			for _, name := range []string{"", "bad\x00name", strings.Repeat("x", 64), "\xffbad"} {
				err := c.CreateSchema(ctx, name)
				require.ErrorIs(t, err, registry.ErrInvalidName, "%q", name)
				require.NotErrorIs(t, err, registry.ErrClosed)
				err = c.DropSchema(ctx, name, registry.IfExists())
				require.ErrorIs(t, err, registry.ErrInvalidName, "%q", name)
				require.NotErrorIs(t, err, registry.ErrClosed)
			}
		}
		// The ghost does reach nothing: a valid name is sent and fails.
		require.ErrorIs(t, ghost.CreateSchema(ctx, "tenant_ok"), registry.ErrClosed)
	})

	t.Run("schemas", func(t *testing.T) {
		schemaCount := func() int64 {
			t.Helper()
			res, err := main.Query(ctx, dc.schemaCount, "tenant_a")
			require.NoError(t, err)
			require.Len(t, res.Rows, 1)
			return res.Rows[0][0].(int64)
		}
		require.EqualValues(t, 0, schemaCount())
		require.NoError(t, cl.CreateSchema(ctx, "tenant_a"))
		require.EqualValues(t, 1, schemaCount())
		require.NoError(t, cl.CreateSchema(ctx, "tenant_a", registry.IfNotExists()))
		err := cl.CreateSchema(ctx, "tenant_a")
		require.ErrorIs(t, err, registry.ErrSchema, "creating it again")
		var se *registry.SchemaError
		require.ErrorAs(t, err, &se)
		require.NoError(t, cl.DropSchema(ctx, "tenant_a", registry.Cascade()))
		require.EqualValues(t, 0, schemaCount())
		require.NoError(t, cl.DropSchema(ctx, "tenant_a", registry.IfExists()))
		require.ErrorIs(t, cl.DropSchema(ctx, "tenant_a"), registry.ErrSchema, "dropping it again")
	})

	t.Run("callbacks", func(t *testing.T) {
		all := make(chan *messages.ModelRegistered, 16)
		fnPID, err := cl.RegisterCallbackFunc(ctx, "", func(m *messages.ModelRegistered) { all <- m })
		require.NoError(t, err)
		require.Equal(t, n.Address(), fnPID.GetAddress(), "the callback actor runs on the client's node")

		require.Equal(t, "Widget", child.Call("register Widget"))
		ev := receive(t, all, 10*time.Second, "ModelRegistered for Widget")
		require.Equal(t, "Widget", ev.GetName())
		require.Equal(t, "widgets", ev.GetTable())
		require.NotZero(t, ev.GetSequence())

		// A callback actor of our own, for one model (one-time by default).
		pid, gadgets := collector[*messages.ModelRegistered](t, n.System)
		require.NoError(t, cl.RegisterCallback(ctx, "Gadget", pid))
		require.Equal(t, "Other", child.Call("register Other"))
		require.Equal(t, "Gadget", child.Call("register Gadget"))
		// The actor's first event is Gadget: Other was not sent to it (the
		// registry sends in registration order).
		require.Equal(t, "Gadget", receive(t, gadgets, 10*time.Second, "ModelRegistered for Gadget").GetName())
		require.Equal(t, "Other", receive(t, all, 10*time.Second, "ModelRegistered for Other").GetName())
		require.Equal(t, "Gadget", receive(t, all, 10*time.Second, "ModelRegistered for Gadget").GetName())

		require.ErrorIs(t, cl.RegisterCallback(ctx, "", nil), messages.ErrInvalidArgument)
	})

	t.Run("query and exec", func(t *testing.T) {
		created := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.FixedZone("X", 2*3600))
		_, err := main.Exec(ctx, dc.createTable)
		require.NoError(t, err)
		price := client.Numeric("12.50")
		rows, err := main.Exec(ctx, dc.insert, int64(1), "widget", price, true, 0.25, []byte{0, 1, 2, 255},
			created, json.RawMessage(`{"a": 1}`), nil)
		require.NoError(t, err)
		require.EqualValues(t, 1, rows)
		_, err = main.Exec(ctx, dc.insert, 2, "gadget", price, false, -1.5, []byte{}, created, json.RawMessage(`[]`), "n")
		require.NoError(t, err)

		res, err := main.Query(ctx, dc.selectRow, int64(1))
		require.NoError(t, err)
		names := make([]string, len(res.Columns))
		for i, c := range res.Columns {
			names[i] = c.Name
		}
		require.Equal(t, []string{"id", "name", "price", "active", "ratio", "data", "created", "meta", "note"}, names)
		require.Len(t, res.Rows, 1)
		row := res.Rows[0]
		assert.Equal(t, int64(1), row[0])
		assert.Equal(t, "widget", row[1])
		if dc.dialect == client.Postgres {
			assert.Equal(t, client.Numeric("12.50"), row[2])
			assert.Equal(t, "NUMERIC", res.Columns[2].Type)
			assert.Equal(t, "INT8", res.Columns[0].Type)
		} else {
			// SQLite has no exact decimal: a DECIMAL column stores a REAL.
			assert.Equal(t, client.Numeric("12.5"), row[2])
			assert.Equal(t, "DECIMAL(10,2)", res.Columns[2].Type)
		}
		assert.Equal(t, true, row[3])
		assert.Equal(t, 0.25, row[4])
		assert.Equal(t, []byte{0, 1, 2, 255}, row[5])
		if assert.IsType(t, time.Time{}, row[6]) {
			got := row[6].(time.Time)
			assert.True(t, got.Equal(created), "created: got %v, want %v", got, created)
			assert.Equal(t, time.UTC, got.Location())
		}
		if assert.IsType(t, json.RawMessage{}, row[7]) {
			assert.JSONEq(t, `{"a": 1}`, string(row[7].(json.RawMessage)))
		}
		assert.Nil(t, row[8])

		// Rows, updates and limits.
		res, err = main.Query(ctx, "SELECT id, active FROM items ORDER BY id")
		require.NoError(t, err)
		require.Equal(t, [][]any{{int64(1), true}, {int64(2), false}}, res.Rows)
		changed, err := main.Exec(ctx, "UPDATE items SET note = 'x'")
		require.NoError(t, err)
		require.EqualValues(t, 2, changed)
		_, err = main.WithLimits(1, 0).Query(ctx, "SELECT id FROM items")
		require.ErrorIs(t, err, client.ErrLimitExceeded)

		// The extra database is a database of its own.
		_, err = extra.Query(ctx, "SELECT id FROM items")
		require.ErrorIs(t, err, client.ErrQuery)
		res, err = extra.Query(ctx, "SELECT 1 + 1 AS two")
		require.NoError(t, err)
		require.Equal(t, [][]any{{int64(2)}}, res.Rows)

		// The server's refusal comes back typed.
		_, err = main.Exec(ctx, "INSERT INTO no_such_table VALUES (1)")
		require.ErrorIs(t, err, client.ErrQuery)
		_, err = main.Query(ctx, "SELEC nonsense")
		require.ErrorIs(t, err, client.ErrQuery)
	})

	t.Run("disconnect", func(t *testing.T) {
		closed, err := extra.Disconnect(ctx)
		require.NoError(t, err)
		require.False(t, closed)
		counts(1, 1)
		require.NoError(t, cl.Disconnect(ctx))
		counts(0, 0)
		_, err = main.Query(ctx, "SELECT 1")
		require.ErrorIs(t, err, registry.ErrNotConnected, "the pool is closed")

		// Disconnects the client does not hold change nothing, even while
		// somebody else (the node itself) holds counts.
		child.Call("connect")
		counts(1, 1)
		require.NoError(t, cl.Disconnect(ctx))
		closed, err = extra.Disconnect(ctx)
		require.NoError(t, err)
		require.False(t, closed)
		closed, err = main.Disconnect(ctx)
		require.NoError(t, err)
		require.False(t, closed)
		counts(1, 1)
		require.Equal(t, "main=1 analytics=1", child.Call("status"))
		child.Call("disconnect")
		counts(0, 0)
	})

	t.Run("close gives back", func(t *testing.T) {
		other, err := n.Attach(addr, "", client.WithCallTimeout(callTimeout))
		require.NoError(t, err)
		require.NoError(t, other.Connect(ctx))
		_, err = other.Extra(extraName).Connect(ctx)
		require.NoError(t, err)
		counts(1, 2)
		require.NoError(t, other.Close(ctx))
		ev := releasedEvent(t, child)
		require.Equal(t, "stopped", ev.GetReason())
		require.Equal(t, n.Address(), ev.GetAddress())
		require.Equal(t, other.Owner().GetId(), ev.GetCaller().GetId())
		require.EqualValues(t, 1, ev.GetConnects())
		requireDatabaseCounts(t, ev, map[string]int64{extraName: 1})
		require.Empty(t, ev.GetErrors())
		counts(0, 0)
		require.ErrorIs(t, other.Connect(ctx), registry.ErrClosed)
	})

	// This node first, then the database node: see roleDB.
	require.NoError(t, cl.Close(ctx))
	closeNode()
	child.Quit()
}

// releasedEvent waits for the child's next RELEASED line.
func releasedEvent(t *testing.T, child *testnode.Child) *messages.CallerReleased {
	t.Helper()
	line := child.Expect("RELEASED ")
	ev := &messages.CallerReleased{}
	require.NoError(t, protojson.Unmarshal([]byte(line), ev), "RELEASED %s", line)
	return ev
}

func requireDatabaseCounts(t *testing.T, ev *messages.CallerReleased, want map[string]int64) {
	t.Helper()
	got := map[string]int64{}
	for _, d := range ev.GetDatabases() {
		got[d.GetDatabase()] += d.GetCount()
	}
	require.Equal(t, want, got)
}
