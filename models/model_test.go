package models

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/messages"
)

// userDef is a small valid definition: an auto id, an email, an org FK.
func userDef() *messages.ModelDef {
	return &messages.ModelDef{
		Name:     "User",
		Schema:   "tenant_a",
		Database: "analytics",
		Columns: []*messages.ColumnDef{
			{Name: "id", Type: tBigint, PrimaryKey: true, AutoIncrement: true, Field: "ID"},
			{Name: "email", Type: tText, Unique: true, MaxLength: 255, Field: "Email"},
			{Name: "org_id", Type: tBigint, Nullable: true, ReferencesTable: "orgs", ReferencesColumn: "id", OnDelete: "SET NULL", Index: true},
		},
	}
}

func mustNew(t *testing.T, def *messages.ModelDef) *Model {
	t.Helper()
	m, err := New(def)
	require.NoError(t, err)
	return m
}

func TestNewAccessorsAndClones(t *testing.T) {
	def := userDef()
	m := mustNew(t, def)
	require.Equal(t, "User", m.Name())
	require.Equal(t, "users", m.Table(), "New fills in Edgy's default table")
	require.Equal(t, "tenant_a", m.Schema())
	require.Equal(t, "analytics", m.Database())
	require.False(t, m.NoContentType())
	require.Empty(t, def.GetTable(), "New does not write to its argument")

	// New keeps a private clone.
	def.Name = "Changed"
	def.Columns[1].Name = "changed"
	require.Equal(t, "User", m.Name())
	c, ok := m.Column("email")
	require.True(t, ok)
	require.EqualValues(t, 255, c.GetMaxLength())

	// Def, Columns and Column hand out clones.
	d := m.Def()
	d.Columns[0].Name = "x"
	d.Table = "x"
	cols := m.Columns()
	require.Len(t, cols, 3)
	cols[0].Name = "y"
	c.Name = "z"
	require.Equal(t, "users", m.Table())
	require.Equal(t, []string{"id", "email", "org_id"}, columnNames(m.Columns()))

	// Column compares ignoring ASCII case.
	c, ok = m.Column("EMAIL")
	require.True(t, ok)
	require.Equal(t, "email", c.GetName())
	_, ok = m.Column("nope")
	require.False(t, ok)

	// An explicit table is kept.
	def = userDef()
	def.Table = "people"
	require.Equal(t, "people", mustNew(t, def).Table())
	def.NoContentType = true
	require.True(t, mustNew(t, def).NoContentType())
}

func columnNames(cols []*messages.ColumnDef) []string {
	var names []string
	for _, c := range cols {
		names = append(names, c.GetName())
	}
	return names
}

func TestNewValidation(t *testing.T) {
	id := func() *messages.ColumnDef {
		return &messages.ColumnDef{Name: "id", Type: tBigint, PrimaryKey: true, AutoIncrement: true}
	}
	for _, tc := range []struct {
		name string
		def  *messages.ModelDef
		want []wantErr
	}{
		{"nil definition", nil, []wantErr{{"", "nil definition", false}}},
		{"empty model name", &messages.ModelDef{Table: "t", Columns: []*messages.ColumnDef{id()}},
			[]wantErr{{"", "model name \"\": empty", true}}},
		{"empty everything", &messages.ModelDef{}, []wantErr{
			{"", "model name", true},
			{"", "table \"\": empty", true},
			{"", "no columns", false},
		}},
		{"no primary key", &messages.ModelDef{Name: "M", Columns: []*messages.ColumnDef{{Name: "a", Type: tText}}},
			[]wantErr{{"", "no primary key", false}}},
		{"column problems, all at once", &messages.ModelDef{Name: "M", Schema: strings.Repeat("s", 64), Columns: []*messages.ColumnDef{
			id(),
			{Name: "ID", Type: tText},
			{Name: "", Type: tText},
			{Name: "t", Type: messages.ColumnType_COLUMN_TYPE_UNSPECIFIED},
			{Name: "u", Type: messages.ColumnType(99)},
			nil,
			{Name: "v", Type: tText, MaxLength: -1},
			{Name: "w", Type: tBigint, MaxLength: 5},
			{Name: "x", Type: tBigint, ReferencesTable: "orgs"},
			{Name: "y", Type: tBigint, ReferencesColumn: "id"},
			{Name: "z", Type: tBigint, ReferencesTable: "orgs", ReferencesColumn: "id", OnDelete: "cascade"},
			{Name: "zz", Type: tBigint, OnDelete: "CASCADE"},
			{Name: "n", Type: tBigint, AutoIncrement: true},
			{Name: "d", Type: tText, DefaultSql: "'a\x00'"},
			{Name: "r", Type: tBigint, ReferencesTable: strings.Repeat("t", 64), ReferencesColumn: "i\x00d"},
		}}, []wantErr{
			{"", "schema", true},
			{"ID", `"id" differs only in case`, false},
			{"", "column name \"\": empty", true},
			{"t", "column type unspecified", false},
			{"u", "unknown column type 99", false},
			{"", "column name \"\": empty", true}, // New's clone turns nil into an empty column
			{"", "column type unspecified", false},
			{"v", "max_length -1 is negative", false},
			{"w", "TEXT columns only", false},
			{"x", "set together", false},
			{"y", "set together", false},
			{"z", `on_delete "cascade"`, false},
			{"zz", "without a foreign key", false},
			{"d", "NUL", false},
			{"r", "referenced table", true},
			{"r", "referenced column", true},
			{"n", "auto_increment needs", false},
		}},
		{"nullable and injected primary keys", &messages.ModelDef{Name: "M", Columns: []*messages.ColumnDef{
			{Name: "a", Type: tBigint, PrimaryKey: true, Nullable: true},
			{Name: "b", Type: tBigint, PrimaryKey: true, Injected: true},
		}}, []wantErr{
			{"a", "cannot be nullable", false},
			{"b", "injected column cannot be part of the primary key", false},
		}},
		{"auto with a default", &messages.ModelDef{Name: "M", Columns: []*messages.ColumnDef{
			{Name: "id", Type: tInteger, PrimaryKey: true, AutoIncrement: true, DefaultSql: "1"},
		}}, []wantErr{{"id", "exclude each other", false}}},
		{"auto on a text key", &messages.ModelDef{Name: "M", Columns: []*messages.ColumnDef{
			{Name: "id", Type: tText, PrimaryKey: true, AutoIncrement: true},
		}}, []wantErr{{"id", "auto_increment needs", false}}},
		{"auto on a composite key", &messages.ModelDef{Name: "M", Columns: []*messages.ColumnDef{
			id(), {Name: "b", Type: tBigint, PrimaryKey: true},
		}}, []wantErr{{"id", "auto_increment needs", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.def)
			require.Nil(t, m)
			requireProblems(t, err, tc.want)
		})
	}
}

func TestDefinitionErrorText(t *testing.T) {
	e := &DefinitionError{Model: "User", Column: "email", Reason: "duplicate column name"}
	require.Equal(t, `dbactor: invalid model "User": column "email": duplicate column name`, e.Error())
	e = &DefinitionError{Model: "User", Reason: "no columns"}
	require.Equal(t, `dbactor: invalid model "User": no columns`, e.Error())
	require.ErrorIs(t, e, messages.ErrInvalidModel)
	require.NotErrorIs(t, e, messages.ErrInvalidName)
	require.Equal(t, messages.Code_CODE_INVALID_MODEL, messages.CodeOf(e, messages.Code_CODE_INTERNAL))

	_, err := New(&messages.ModelDef{Name: "M", Table: "t\x00", Columns: []*messages.ColumnDef{{Name: "id", Type: tBigint, PrimaryKey: true}}})
	require.ErrorIs(t, err, messages.ErrInvalidName)
	require.Equal(t, messages.Code_CODE_INVALID_NAME, messages.CodeOf(err, messages.Code_CODE_INTERNAL))
}

func TestAddColumnAndCopy(t *testing.T) {
	m := mustNew(t, userDef())
	m.Init()
	require.True(t, m.Initialized())

	// A refused column leaves the Model as it was, metadata included.
	for _, bad := range []*messages.ColumnDef{
		nil,
		{Name: "Email", Type: tText},
		{Name: "x", Type: tText, PrimaryKey: true},
		{Name: "x"},
		{Name: "x\x00", Type: tText},
	} {
		require.ErrorIs(t, m.AddColumn(bad), messages.ErrInvalidModel, "%v", bad)
	}
	require.Equal(t, []string{"id", "email", "org_id"}, columnNames(m.Columns()))
	require.True(t, m.Initialized())
	require.EqualValues(t, 1, m.Inits())

	ct := &messages.ColumnDef{
		Name: "content_type", Type: tBigint, Unique: true, Injected: true,
		ReferencesTable: "contenttypes", ReferencesColumn: "id", OnDelete: "CASCADE",
	}
	require.NoError(t, m.AddColumn(ct))
	ct.Name = "mutated" // AddColumn keeps a clone
	require.False(t, m.Initialized(), "AddColumn invalidates")
	require.Equal(t, []string{"id", "email", "org_id", "content_type"}, columnNames(m.Columns()))
	require.Contains(t, m.CreateTableSQL(dsn.Postgres, "", false)[0], `"content_type" BIGINT NOT NULL UNIQUE REFERENCES "contenttypes" ("id") ON DELETE CASCADE`)
	require.EqualValues(t, 2, m.Inits())

	// Copy leaves the injected column out, has no metadata, and is independent.
	cp := m.Copy()
	require.Equal(t, []string{"id", "email", "org_id"}, columnNames(cp.Columns()))
	require.False(t, cp.Initialized())
	require.EqualValues(t, 0, cp.Inits())
	require.Equal(t, m.Name(), cp.Name())
	require.Equal(t, m.Table(), cp.Table())
	require.Equal(t, m.Schema(), cp.Schema())
	require.Equal(t, m.Database(), cp.Database())
	require.NotContains(t, strings.Join(cp.CreateTableSQL(dsn.Postgres, "", false), ";"), "content_type")

	require.NoError(t, cp.AddColumn(&messages.ColumnDef{Name: "content_type", Type: tBigint, Injected: true}))
	require.Len(t, cp.Columns(), 4)
	require.Len(t, m.Columns(), 4)
	mc, _ := m.Column("content_type")
	cc, _ := cp.Column("content_type")
	require.Equal(t, "contenttypes", mc.GetReferencesTable())
	require.Empty(t, cc.GetReferencesTable())

	// The copy of the copy of a model without injected columns is equal.
	plain := mustNew(t, userDef())
	require.True(t, proto.Equal(plain.Def(), plain.Copy().Def()))
}

func TestLazyMetadata(t *testing.T) {
	m := mustNew(t, userDef())
	require.EqualValues(t, 0, m.Inits())
	require.False(t, m.Initialized())

	// Accessors that do not need metadata do not compute it.
	_ = m.Name()
	_ = m.Table()
	_ = m.Schema()
	_ = m.Database()
	_ = m.NoContentType()
	_ = m.Def()
	_ = m.Columns()
	_, _ = m.Column("id")
	_ = m.Copy()
	require.EqualValues(t, 0, m.Inits())
	require.False(t, m.Initialized())

	first := m.CreateTableSQL(dsn.Postgres, "s", true)
	require.EqualValues(t, 1, m.Inits())
	require.True(t, m.Initialized())
	require.Equal(t, first, m.CreateTableSQL(dsn.Postgres, "s", true))
	m.CreateTableSQL(dsn.SQLite, "", false) // both dialects were computed at once
	m.DropTableSQL(dsn.SQLite, "", true)
	m.qt("s")
	m.Init()
	require.EqualValues(t, 1, m.Inits())

	m.Invalidate()
	require.False(t, m.Initialized())
	require.EqualValues(t, 1, m.Inits())
	require.Equal(t, first, m.CreateTableSQL(dsn.Postgres, "s", true))
	require.EqualValues(t, 2, m.Inits())

	// Each DDL method computes the metadata when it is missing.
	for i, ddl := range []func(){
		func() { m.CreateTableSQL(dsn.SQLite, "", false) },
		func() { m.DropTableSQL(dsn.Postgres, "", false) },
		func() { m.qt("") },
		m.Init,
	} {
		m.Invalidate()
		ddl()
		require.True(t, m.Initialized())
		require.EqualValues(t, 3+i, m.Inits())
	}

	// Invalidate on a model that was never initialised is harmless.
	fresh := mustNew(t, userDef())
	fresh.Invalidate()
	require.EqualValues(t, 0, fresh.Inits())
}

func TestConcurrentInitComputesOnce(t *testing.T) {
	m := mustNew(t, userDef())
	const n = 50
	var wg sync.WaitGroup
	// Several rounds, each starting uninitialised, give the goroutines many
	// chances to race for the first computation.
	for round := range 20 {
		m.Invalidate()
		start := make(chan struct{})
		results := make([][]string, n)
		for i := range n {
			wg.Go(func() {
				<-start
				if i%10 == 0 {
					_ = m.Columns() // readers that need no metadata run alongside
				}
				results[i] = m.CreateTableSQL(dsn.Postgres, "tenant_a", true)
			})
		}
		close(start)
		wg.Wait()
		require.EqualValues(t, round+1, m.Inits(), "computed once per round")
		for _, r := range results {
			require.Equal(t, results[0], r)
		}
		require.NotEmpty(t, results[0])
	}
	m.Invalidate()
	inits := m.Inits()

	// Invalidate and AddColumn racing with DDL: every result is one of the
	// two consistent renderings, never a mixture.
	before := m.CreateTableSQL(dsn.SQLite, "", false)
	start := make(chan struct{})
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range n {
		wg.Go(func() {
			<-start
			switch i {
			case 7:
				m.Invalidate()
			case 21:
				require.NoError(t, m.AddColumn(&messages.ColumnDef{Name: "extra", Type: tText, Nullable: true}))
			}
			s := strings.Join(m.CreateTableSQL(dsn.SQLite, "", false), ";")
			mu.Lock()
			seen[s] = true
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	after := strings.Join(m.CreateTableSQL(dsn.SQLite, "", false), ";")
	require.Contains(t, after, `"extra" TEXT`)
	for s := range seen {
		require.True(t, s == strings.Join(before, ";") || s == after, s)
	}
	require.LessOrEqual(t, m.Inits(), inits+3)
}

// Adopt keeps the definition it is given, and never changes it: a table
// filled in and a column added go to copies.
func TestAdoptNeverChangesTheDefinition(t *testing.T) {
	def := &messages.ModelDef{Name: "User", Columns: []*messages.ColumnDef{
		{Name: "id", Type: messages.ColumnType_COLUMN_TYPE_BIGINT, PrimaryKey: true},
	}}
	before := proto.Clone(def)
	m, err := Adopt(def)
	require.NoError(t, err)
	require.Equal(t, "users", m.Table())
	require.NoError(t, m.AddColumn(&messages.ColumnDef{Name: "email", Type: messages.ColumnType_COLUMN_TYPE_TEXT}))
	require.Len(t, m.Columns(), 2)
	require.True(t, proto.Equal(before, def), "the adopted definition changed: %v", def)

	def.Table = "people"
	m, err = Adopt(def)
	require.NoError(t, err)
	require.NoError(t, m.AddColumn(&messages.ColumnDef{Name: "email", Type: messages.ColumnType_COLUMN_TYPE_TEXT}))
	require.Len(t, def.GetColumns(), 1, "AddColumn changed the adopted definition")

	_, err = Adopt(nil)
	require.ErrorIs(t, err, ErrInvalidModel)
	_, err = Adopt(&messages.ModelDef{Name: "NoKey"})
	require.ErrorIs(t, err, ErrInvalidModel)
}

// TestKnownTypes: knownType, a switch, knows exactly the types the two
// dialects render.
func TestKnownTypes(t *testing.T) {
	for v := range messages.ColumnType_name {
		ct := messages.ColumnType(v)
		_, pg := postgresTypes[ct]
		_, lite := sqliteTypes[ct]
		require.Equal(t, pg, knownType(ct), "%s", ct)
		require.Equal(t, lite, knownType(ct), "%s", ct)
	}
	require.False(t, knownType(messages.ColumnType(1<<20)))
}
