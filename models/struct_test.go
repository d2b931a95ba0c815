package models

import (
	"database/sql"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/messages"
)

// Mood is a named string type: it maps by its underlying kind.
type Mood string

// everyType has one field of every Go type FromStruct supports, plus the
// type= overrides; the database tests round-trip it on both dialects.
type everyType struct {
	ID     int64
	I8     int8
	I16    int16
	U8     uint8
	I32    int32
	U16    uint16
	I      int
	I64    int64
	U32    uint32
	S      string `db:",size=40"`
	B      bool
	F64    float64
	F32    float32
	T      time.Time
	Bytes  []byte
	Raw    json.RawMessage
	Mood   Mood
	Num    string    `db:",type=numeric"`
	UUID   string    `db:",type=uuid"`
	Day    time.Time `db:",type=date"`
	NS     sql.NullString
	NI64   sql.NullInt64
	NI32   sql.NullInt32
	NI16   sql.NullInt16
	NByte  sql.NullByte
	NB     sql.NullBool
	NF     sql.NullFloat64
	NT     sql.NullTime
	GS     sql.Null[string]
	GT     sql.Null[time.Time]
	GI8    sql.Null[int8]
	PS     *string
	PI     *int32
	PF     *float32
	PT     *time.Time
	PBytes *[]byte
	PMood  *Mood
	PRaw   *json.RawMessage
}

const (
	tBigint    = messages.ColumnType_COLUMN_TYPE_BIGINT
	tInteger   = messages.ColumnType_COLUMN_TYPE_INTEGER
	tSmallint  = messages.ColumnType_COLUMN_TYPE_SMALLINT
	tText      = messages.ColumnType_COLUMN_TYPE_TEXT
	tBoolean   = messages.ColumnType_COLUMN_TYPE_BOOLEAN
	tDouble    = messages.ColumnType_COLUMN_TYPE_DOUBLE
	tReal      = messages.ColumnType_COLUMN_TYPE_REAL
	tTimestamp = messages.ColumnType_COLUMN_TYPE_TIMESTAMP
	tBytes     = messages.ColumnType_COLUMN_TYPE_BYTES
	tNumeric   = messages.ColumnType_COLUMN_TYPE_NUMERIC
	tJSON      = messages.ColumnType_COLUMN_TYPE_JSON
	tUUID      = messages.ColumnType_COLUMN_TYPE_UUID
	tDate      = messages.ColumnType_COLUMN_TYPE_DATE
)

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"ID":         "id",
		"UserID":     "user_id",
		"HTTPServer": "http_server",
		"CreatedAt":  "created_at",
		"Name":       "name",
		"A":          "a",
		"Field2Name": "field2_name",
		"NI64":       "ni64",
		"PBytes":     "p_bytes",
		"User_ID":    "user_id",
		"ÄrgerÖl":    "ärger_öl",
	} {
		require.Equal(t, want, snakeCase(in), in)
	}
}

func TestFromStructTypeMap(t *testing.T) {
	def, err := FromStruct(everyType{})
	require.NoError(t, err)
	require.Equal(t, "everyType", def.GetName())
	require.Equal(t, "everytypes", def.GetTable())

	want := []struct {
		field, column string
		typ           messages.ColumnType
		nullable      bool
	}{
		{"ID", "id", tBigint, false},
		{"I8", "i8", tSmallint, false},
		{"I16", "i16", tSmallint, false},
		{"U8", "u8", tSmallint, false},
		{"I32", "i32", tInteger, false},
		{"U16", "u16", tInteger, false},
		{"I", "i", tBigint, false},
		{"I64", "i64", tBigint, false},
		{"U32", "u32", tBigint, false},
		{"S", "s", tText, false},
		{"B", "b", tBoolean, false},
		{"F64", "f64", tDouble, false},
		{"F32", "f32", tReal, false},
		{"T", "t", tTimestamp, false},
		{"Bytes", "bytes", tBytes, false},
		{"Raw", "raw", tJSON, false},
		{"Mood", "mood", tText, false},
		{"Num", "num", tNumeric, false},
		{"UUID", "uuid", tUUID, false},
		{"Day", "day", tDate, false},
		{"NS", "ns", tText, true},
		{"NI64", "ni64", tBigint, true},
		{"NI32", "ni32", tInteger, true},
		{"NI16", "ni16", tSmallint, true},
		{"NByte", "n_byte", tSmallint, true},
		{"NB", "nb", tBoolean, true},
		{"NF", "nf", tDouble, true},
		{"NT", "nt", tTimestamp, true},
		{"GS", "gs", tText, true},
		{"GT", "gt", tTimestamp, true},
		{"GI8", "gi8", tSmallint, true},
		{"PS", "ps", tText, true},
		{"PI", "pi", tInteger, true},
		{"PF", "pf", tReal, true},
		{"PT", "pt", tTimestamp, true},
		{"PBytes", "p_bytes", tBytes, true},
		{"PMood", "p_mood", tText, true},
		{"PRaw", "p_raw", tJSON, true},
	}
	require.Len(t, def.GetColumns(), len(want))
	for i, w := range want {
		c := def.GetColumns()[i]
		require.Equal(t, w.field, c.GetField(), "column %d", i)
		require.Equal(t, w.column, c.GetName(), w.field)
		require.Equal(t, w.typ, c.GetType(), w.field)
		require.Equal(t, w.nullable, c.GetNullable(), w.field)
		require.Equal(t, w.field == "ID", c.GetPrimaryKey(), w.field)
		require.Equal(t, w.field == "ID", c.GetAutoIncrement(), w.field)
	}
	require.EqualValues(t, 40, def.GetColumns()[9].GetMaxLength())

	// Every kind of input names the same struct.
	var nilPtr *everyType
	for _, v := range []any{&everyType{}, nilPtr, reflect.TypeFor[everyType](), reflect.TypeFor[*everyType]()} {
		again, err := FromStruct(v)
		require.NoError(t, err)
		require.Equal(t, def.String(), again.String())
	}
}

type base struct {
	ID        int64
	CreatedAt time.Time `db:",default=CURRENT_TIMESTAMP"`
}

type Audit struct {
	By string
}

type meta struct{ A, B int }

type hiddenPtr struct{ X int }

type withEmbedded struct {
	base
	*Audit
	*hiddenPtr      // unexported embedded pointer: skipped, as in encoding/json
	Meta       meta `db:"meta,type=json"`
	Name       string
	hidden     string
	Skip       chan int `db:"-"`
	Dash       string   `db:"-,"`
}

func TestFromStructEmbeddedAndSkipped(t *testing.T) {
	def, err := FromStruct(withEmbedded{hidden: "x"})
	require.NoError(t, err)
	var names, fields []string
	for _, c := range def.GetColumns() {
		names = append(names, c.GetName())
		fields = append(fields, c.GetField())
	}
	require.Equal(t, []string{"id", "created_at", "by", "meta", "name", "-"}, names)
	require.Equal(t, []string{"base.ID", "base.CreatedAt", "Audit.By", "Meta", "Name", "Dash"}, fields)
	require.True(t, def.GetColumns()[0].GetPrimaryKey())
	require.Equal(t, "CURRENT_TIMESTAMP", def.GetColumns()[1].GetDefaultSql())
	require.Equal(t, tJSON, def.GetColumns()[3].GetType())
	require.False(t, def.GetColumns()[3].GetNullable())

	// FieldIndex resolves the recorded paths, through the embedded pointer too.
	typ := reflect.TypeFor[withEmbedded]()
	v := reflect.ValueOf(&withEmbedded{Audit: &Audit{By: "ann"}}).Elem()
	v.FieldByIndex(mustIndex(t, typ, "base.ID")).SetInt(7)
	require.Equal(t, int64(7), v.Interface().(withEmbedded).ID)
	require.Equal(t, "ann", v.FieldByIndex(mustIndex(t, typ, "Audit.By")).Interface())
	_, ok := FieldIndex(typ, "base.Nope")
	require.False(t, ok)
	_, ok = FieldIndex(typ, "ID") // promoted, not a recorded path
	require.False(t, ok)
	_, ok = FieldIndex(typ, "Name.X")
	require.False(t, ok)
	require.Equal(t, mustIndex(t, typ, "Audit.By"), mustIndex(t, reflect.TypeFor[*withEmbedded](), "Audit.By"))

	// An embedded column type (time.Time, sql.NullX) is one column, not flattened.
	type stamped struct {
		ID int64
		time.Time
		sql.NullString
	}
	def, err = FromStruct(stamped{})
	require.NoError(t, err)
	require.Equal(t, "time", def.GetColumns()[1].GetName())
	require.Equal(t, tTimestamp, def.GetColumns()[1].GetType())
	require.Equal(t, "null_string", def.GetColumns()[2].GetName())
	require.True(t, def.GetColumns()[2].GetNullable())
}

func mustIndex(t *testing.T, typ reflect.Type, field string) []int {
	t.Helper()
	idx, ok := FieldIndex(typ, field)
	require.True(t, ok, field)
	return idx
}

func TestFromStructOptionsAndTags(t *testing.T) {
	type Org struct {
		Code  string `db:"code,pk"`
		Title string `db:"title, unique , index,size=100"`
	}
	type Member struct {
		OrgCode string  `db:"org_code,pk,references=orgs.code,ondelete=cascade"`
		Seq     int32   `db:"seq,pk"`
		Boss    *string `db:",references=my.odd.table.code,ondelete=Set_Null,index"`
		Score   float64 `db:"score,notnull,default=coalesce(1, 2) + length('a,b')"`
		Note    string  `db:"note,null,unique,default=''"`
		Opt     *int64  `db:"opt,notnull"`
		Policy  string  `db:"policy,references=orgs.code,ondelete=No Action"`
		Pol2    string  `db:"pol2,references=orgs.code,ondelete=restrict"`
	}
	def, err := FromStruct(Org{}, Name("Organisation"), Table("orgs"), Schema("tenant_a"), Database("analytics"), NoContentType())
	require.NoError(t, err)
	require.Equal(t, "Organisation", def.GetName())
	require.Equal(t, "orgs", def.GetTable())
	require.Equal(t, "tenant_a", def.GetSchema())
	require.Equal(t, "analytics", def.GetDatabase())
	require.True(t, def.GetNoContentType())
	code, title := def.GetColumns()[0], def.GetColumns()[1]
	require.True(t, code.GetPrimaryKey())
	require.False(t, code.GetAutoIncrement(), "a text primary key is never auto")
	require.True(t, title.GetUnique())
	require.True(t, title.GetIndex())
	require.EqualValues(t, 100, title.GetMaxLength())
	require.False(t, title.GetPrimaryKey())

	def, err = FromStruct(&Member{}, Name("Member"))
	require.NoError(t, err)
	require.Equal(t, "members", def.GetTable())
	col := map[string]*messages.ColumnDef{}
	for _, c := range def.GetColumns() {
		col[c.GetName()] = c
	}
	// Composite primary key: no auto-increment.
	require.True(t, col["org_code"].GetPrimaryKey())
	require.True(t, col["seq"].GetPrimaryKey())
	require.False(t, col["seq"].GetAutoIncrement())
	require.Equal(t, "orgs", col["org_code"].GetReferencesTable())
	require.Equal(t, "code", col["org_code"].GetReferencesColumn())
	require.Equal(t, "CASCADE", col["org_code"].GetOnDelete())
	// references= splits at the last dot.
	require.Equal(t, "my.odd.table", col["boss"].GetReferencesTable())
	require.Equal(t, "code", col["boss"].GetReferencesColumn())
	require.Equal(t, "SET NULL", col["boss"].GetOnDelete())
	require.True(t, col["boss"].GetNullable())
	require.True(t, col["boss"].GetIndex())
	// default= takes the rest of the tag, commas and spaces included.
	require.Equal(t, "coalesce(1, 2) + length('a,b')", col["score"].GetDefaultSql())
	require.False(t, col["score"].GetNullable())
	require.True(t, col["note"].GetNullable())
	require.True(t, col["note"].GetUnique())
	require.Equal(t, "''", col["note"].GetDefaultSql())
	require.False(t, col["opt"].GetNullable(), "notnull overrides a pointer")
	require.Equal(t, "NO ACTION", col["policy"].GetOnDelete())
	require.Equal(t, "RESTRICT", col["pol2"].GetOnDelete())

	// Primary key details.
	type implicitID struct {
		ID   *int32 // a pointer primary key is still NOT NULL
		Name string
	}
	def, err = FromStruct(implicitID{})
	require.NoError(t, err)
	id := def.GetColumns()[0]
	require.True(t, id.GetPrimaryKey())
	require.False(t, id.GetNullable())
	require.True(t, id.GetAutoIncrement())
	require.Equal(t, tInteger, id.GetType())

	type upperID struct {
		Key int16 `db:"ID"`
	}
	def, err = FromStruct(upperID{})
	require.NoError(t, err)
	require.True(t, def.GetColumns()[0].GetPrimaryKey(), "the id fallback ignores case")
	require.True(t, def.GetColumns()[0].GetAutoIncrement())

	type noAuto struct {
		ID int64 `db:"id,pk,noauto"`
	}
	def, err = FromStruct(noAuto{})
	require.NoError(t, err)
	require.False(t, def.GetColumns()[0].GetAutoIncrement())

	type explicitAuto struct {
		Key  int64 `db:"key,pk,auto"`
		ID   int64 // not the key: a pk tag wins over the "id" fallback
		Name string
	}
	def, err = FromStruct(explicitAuto{})
	require.NoError(t, err)
	require.True(t, def.GetColumns()[0].GetAutoIncrement())
	require.False(t, def.GetColumns()[1].GetPrimaryKey())
	require.False(t, def.GetColumns()[1].GetAutoIncrement())

	// Names with quotes and semicolons are fine: they are always quoted.
	type odd struct {
		ID  int64  `db:"i\"d; DROP TABLE x; --,pk"`
		Val string `db:"v'a\"l"`
	}
	def, err = FromStruct(odd{}, Name(`we"ird; model`))
	require.NoError(t, err)
	require.Equal(t, `we"ird; models`, def.GetTable())
	require.Equal(t, `i"d; DROP TABLE x; --`, def.GetColumns()[0].GetName())

	// A 62-byte name makes a 63-byte table: the longest allowed.
	_, err = FromStruct(odd{}, Name(strings.Repeat("n", 62)))
	require.NoError(t, err)
}

// wantErr is one expected problem: the error type, its column or field, and
// a piece of its text.
type wantErr struct {
	field  string // FieldError.Field or DefinitionError.Column
	reason string
	name   bool // also matches messages.ErrInvalidName
}

func TestFromStructErrors(t *testing.T) {
	type Recursive struct {
		ID int64
		*Recursive
	}
	for _, tc := range []struct {
		name string
		v    any
		opts []Option
		want []wantErr
	}{
		{"no primary key", struct {
			Name string
		}{}, []Option{Name("X")}, []wantErr{{"", "no primary key", false}}},
		{"duplicate column", struct {
			ID int64
			A  string `db:"x"`
			B  string `db:"x"`
		}{}, []Option{Name("X")}, []wantErr{{"x", "duplicate column name", false}}},
		{"case-only duplicate", struct {
			ID    int64
			A     string `db:"Email"`
			Email string
		}{}, []Option{Name("X")}, []wantErr{{"email", `"Email" differs only in case`, false}}},
		{"duplicate through embedding", struct {
			base
			ID int64
		}{}, []Option{Name("X")}, []wantErr{{"id", "duplicate column name", false}}},
		{"map", struct {
			ID int64
			M  map[string]int
		}{}, []Option{Name("X")}, []wantErr{{"M", "unsupported Go type", false}}},
		{"other slice", struct {
			ID   int64
			Tags []string
		}{}, []Option{Name("X")}, []wantErr{{"Tags", "unsupported Go type", false}}},
		{"array", struct {
			ID int64
			U  [16]byte
		}{}, []Option{Name("X")}, []wantErr{{"U", "unsupported Go type", false}}},
		{"chan func interface struct", struct {
			ID int64
			C  chan int
			F  func()
			I  any
			S  meta
			PS *meta
		}{}, []Option{Name("X")}, []wantErr{
			{"C", "unsupported Go type", false},
			{"F", "unsupported Go type", false},
			{"I", "unsupported Go type", false},
			{"S", "unsupported Go type", false},
			{"PS", "unsupported Go type", false},
		}},
		{"unsigned 64-bit", struct {
			ID int64
			A  uint
			B  uint64
			C  uintptr
			D  *uint64
		}{}, []Option{Name("X")}, []wantErr{
			{"A", "do not fit BIGINT", false},
			{"B", "do not fit BIGINT", false},
			{"C", "do not fit BIGINT", false},
			{"D", "do not fit BIGINT", false},
		}},
		{"pointer to pointer", struct {
			ID int64
			P  **int
		}{}, []Option{Name("X")}, []wantErr{{"P", "pointer to a pointer", false}}},
		{"pk tagged null", struct {
			ID int64 `db:"id,pk,null"`
		}{}, []Option{Name("X")}, []wantErr{{"ID", "primary key cannot be null", false}}},
		{"bad sizes", struct {
			ID int64
			A  string `db:",size=0"`
			B  string `db:",size=-3"`
			C  string `db:",size=abc"`
			D  string `db:",size=99999999999"`
			E  string `db:",size"`
		}{}, []Option{Name("X")}, []wantErr{
			{"A", `size="0"`, false},
			{"B", `size="-3"`, false},
			{"C", `size="abc"`, false},
			{"D", `size="99999999999"`, false},
			{"E", `size=""`, false},
		}},
		{"size beyond varchar", struct {
			ID int64
			A  string `db:",size=10485761"`
		}{}, []Option{Name("X")}, []wantErr{{"a", "exceeds PostgreSQL's VARCHAR limit", false}}},
		{"size on a non-text column", struct {
			ID int64
			N  int32 `db:",size=4"`
		}{}, []Option{Name("X")}, []wantErr{{"n", "TEXT columns only", false}}},
		{"bad ondelete", struct {
			ID  int64
			Org int64 `db:",references=orgs.id,ondelete=explode"`
		}{}, []Option{Name("X")}, []wantErr{{"Org", `ondelete="explode"`, false}}},
		{"ondelete without references", struct {
			ID  int64
			Org int64 `db:",ondelete=cascade"`
		}{}, []Option{Name("X")}, []wantErr{{"org", "without a foreign key", false}}},
		{"set null on a not-null column", struct {
			ID  int64
			Org int64 `db:",references=orgs.id,ondelete=set null"`
		}{}, []Option{Name("X")}, []wantErr{{"org", "not nullable", false}}},
		{"bad references", struct {
			ID int64
			A  int64 `db:",references=orgs"`
			B  int64 `db:",references=.id"`
			C  int64 `db:",references=orgs."`
		}{}, []Option{Name("X")}, []wantErr{
			{"A", `references="orgs"`, false},
			{"B", `references=".id"`, false},
			{"C", `references="orgs."`, false},
		}},
		{"bad type", struct {
			ID int64
			X  string `db:",type=xml"`
		}{}, []Option{Name("X")}, []wantErr{{"X", `type="xml"`, false}}},
		{"unknown, empty, repeated and valued options", struct {
			ID int64
			A  string `db:",primary"`
			B  string `db:",,unique"`
			C  string `db:",unique,unique"`
			D  string `db:",unique=yes"`
			E  string `db:",default="`
		}{}, []Option{Name("X")}, []wantErr{
			{"A", `unknown tag option "primary"`, false},
			{"B", "empty tag option", false},
			{"C", `"unique" given twice`, false},
			{"D", `"unique" takes no value`, false},
			{"E", "default= needs an SQL expression", false},
		}},
		{"conflicting options", struct {
			ID int64 `db:"id,pk,auto,noauto"`
			A  *int  `db:",null,notnull"`
		}{}, []Option{Name("X")}, []wantErr{
			{"ID", "both auto and noauto", false},
			{"A", "both null and notnull", false},
		}},
		{"auto on a non-key or non-integer key", struct {
			Code string `db:",pk,auto"`
			N    int64  `db:",auto"`
		}{}, []Option{Name("X")}, []wantErr{
			{"code", "auto_increment needs", false},
			{"n", "auto_increment needs", false},
		}},
		{"auto on a composite key", struct {
			A int64 `db:",pk,auto"`
			B int64 `db:",pk"`
		}{}, []Option{Name("X")}, []wantErr{{"a", "auto_increment needs", false}}},
		{"unexported field with a tag", struct {
			ID     int64
			secret string `db:"secret"`
		}{}, []Option{Name("X")}, []wantErr{{"secret", "unexported field with a db tag", false}}},
		{"options on a flattened embedded struct", struct {
			base `db:",index"`
		}{}, []Option{Name("X")}, []wantErr{
			{"base", "tag options on an embedded struct", false},
		}},
		{"whole-model problems wait for field problems", struct {
			Name string
			M    map[int]int
		}{}, []Option{Name("X")}, []wantErr{{"M", "unsupported Go type", false}}},
		{"embedded struct named as a column without type", struct {
			ID    int64
			Audit `db:"audit"`
		}{}, []Option{Name("X")}, []wantErr{{"Audit", "unsupported Go type", false}}},
		{"unexported embedded struct named as a column", struct {
			ID   int64
			meta `db:"meta"`
		}{}, []Option{Name("X")}, []wantErr{{"meta", "unexported field with a db tag", false}}},
		{"recursive embedding", Recursive{}, nil, []wantErr{{"Recursive", "embeds itself", false}}},
		{"column name with NUL", struct {
			ID int64
			A  string `db:"a\x00b"`
		}{}, []Option{Name("X")}, []wantErr{{"a\x00b", "NUL", true}}},
		{"column name of 64 bytes", struct {
			ID int64
			A  string `db:"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"`
		}{}, []Option{Name("X")}, []wantErr{{strings.Repeat("a", 64), "64 bytes", true}}},
		{"model name of 64 bytes (and its table)", struct {
			ID int64
		}{}, []Option{Name(strings.Repeat("m", 64))}, []wantErr{
			{"", "model name", true},
			{"", "table", true},
		}},
		{"63-byte model name makes a 64-byte table", struct {
			ID int64
		}{}, []Option{Name(strings.Repeat("m", 63))}, []wantErr{{"", "table", true}}},
		{"table and schema with NUL", struct {
			ID int64
		}{}, []Option{Name("X"), Table("t\x00"), Schema("s\x00")}, []wantErr{
			{"", "table", true},
			{"", "schema", true},
		}},
		{"bad referenced names", struct {
			ID int64
			A  int64 `db:",references=t\x00.id"`
		}{}, []Option{Name("X")}, []wantErr{{"a", "referenced table", true}}},
		{"anonymous struct without a name", struct{ ID int64 }{}, nil, []wantErr{{"", "needs a model name", false}}},
		{"not a struct", 5, nil, []wantErr{{"", "not int", false}}},
		{"pointer to non-struct", new(int), nil, []wantErr{{"", "not int", false}}},
		{"nil", nil, nil, []wantErr{{"", "not nil", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def, err := FromStruct(tc.v, tc.opts...)
			require.Nil(t, def)
			requireProblems(t, err, tc.want)
		})
	}
}

// requireProblems checks that err is exactly the joined problems want, each
// matching messages.ErrInvalidModel (and ErrInvalidName when name is set).
func requireProblems(t *testing.T, err error, want []wantErr) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, messages.ErrInvalidModel)
	var got []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		got = j.Unwrap()
	} else {
		got = []error{err}
	}
	require.Len(t, got, len(want), "problems: %v", err)
	for i, w := range want {
		e := got[i]
		require.ErrorIs(t, e, messages.ErrInvalidModel)
		require.Equal(t, w.name, errors.Is(e, messages.ErrInvalidName), "%v", e)
		require.Contains(t, e.Error(), w.reason)
		var fe *FieldError
		var de *DefinitionError
		switch {
		case errors.As(e, &fe):
			require.Equal(t, w.field, fe.Field, "%v", e)
			require.NotEmpty(t, fe.Struct)
			require.NotEmpty(t, fe.GoType)
			require.Contains(t, e.Error(), fe.GoType)
		case errors.As(e, &de):
			require.Equal(t, w.field, de.Column, "%v", e)
		default:
			t.Fatalf("unexpected error type %T: %v", e, e)
		}
	}
}

func TestFieldErrorNamesStructFieldAndType(t *testing.T) {
	type Widget struct {
		ID   int64
		Tags map[string]bool
	}
	_, err := FromStruct(Widget{})
	var fe *FieldError
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "models.Widget", fe.Struct)
	require.Equal(t, "Tags", fe.Field)
	require.Equal(t, "map[string]bool", fe.GoType)
	require.Equal(t, `dbactor: invalid model field models.Widget.Tags (map[string]bool): unsupported Go type: give the column type with type=`, fe.Error())

	// type= makes it a column, trusted.
	type Widget2 struct {
		ID   int64
		Tags map[string]bool `db:",type=json"`
	}
	def, err := FromStruct(Widget2{})
	require.NoError(t, err)
	require.Equal(t, tJSON, def.GetColumns()[1].GetType())
}
