package sqlvalue_test

import (
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/sqlvalue"
	"github.com/dbactor/dbactor/messages"
)

var when = time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)

func TestArgs(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	cases := []struct {
		name string
		in   *messages.Value
		want any
	}{
		{"nil value", nil, nil},
		{"no kind", sqlvalue.Null(), nil},
		{"bool", sqlvalue.Bool(true), true},
		{"int", sqlvalue.Int(-7), int64(-7)},
		{"float", sqlvalue.Float(1.5), 1.5},
		{"text", sqlvalue.Text("héllo"), "héllo"},
		{"empty text", sqlvalue.Text(""), ""},
		{"bytes", sqlvalue.Bytes([]byte{0, 1, 255}), []byte{0, 1, 255}},
		{"nil bytes is empty, not NULL", &messages.Value{Kind: &messages.Value_Bytes{}}, []byte{}},
		{"time in UTC", &messages.Value{Kind: &messages.Value_Time{Time: timestamppb.New(when.In(cet))}}, when},
		{"numeric", sqlvalue.NumericValue("12.50"), "12.50"},
		{"numeric NaN", sqlvalue.NumericValue("NaN"), "NaN"},
		{"json", sqlvalue.JSON(`{"a": [1, null]}`), `{"a": [1, null]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := sqlvalue.Args([]*messages.Value{c.in})
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, c.want, got[0])
			if tm, ok := got[0].(time.Time); ok {
				require.Equal(t, time.UTC, tm.Location())
			}
		})
	}
	got, err := sqlvalue.Args(nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestArgsRefused(t *testing.T) {
	cases := []struct {
		name string
		in   *messages.Value
	}{
		{"nil time", &messages.Value{Kind: &messages.Value_Time{}}},
		{"time out of range", &messages.Value{Kind: &messages.Value_Time{Time: &timestamppb.Timestamp{Seconds: math.MaxInt64}}}},
		{"bad nanos", &messages.Value{Kind: &messages.Value_Time{Time: &timestamppb.Timestamp{Nanos: -1}}}},
		{"numeric not a number", sqlvalue.NumericValue("12,5 secret")},
		{"numeric with spaces", sqlvalue.NumericValue(" 1")},
		{"empty numeric", sqlvalue.NumericValue("")},
		{"invalid json", sqlvalue.JSON(`{"secret": `)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := sqlvalue.Args([]*messages.Value{sqlvalue.Int(1), c.in})
			require.ErrorIs(t, err, messages.ErrInvalidArgument)
			require.Contains(t, err.Error(), "argument $2")
			require.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestValidNumeric(t *testing.T) {
	for _, s := range []string{"0", "-1", "+1", "12.50", ".5", "5.", "1e10", "1.5E-3", "NaN", "nan", "Infinity", "-Infinity", "inf", "123456789012345678901234567890.123456789"} {
		require.True(t, sqlvalue.ValidNumeric(s), s)
	}
	for _, s := range []string{"", ".", "-", "1e", "1_000", "0x1F", " 1", "1 ", "1,5", "e5", "--1", "-NaN"} {
		require.False(t, sqlvalue.ValidNumeric(s), s)
	}
}

type myInt int16
type myString string
type myBytes []byte

// valuer returns its value from Value, or fails.
type valuer struct {
	v   driver.Value
	err error
}

func (v valuer) Value() (driver.Value, error) { return v.v, v.err }

type ptrValuer struct{ s string }

func (p *ptrValuer) Value() (driver.Value, error) { return p.s, nil }

func TestFromGo(t *testing.T) {
	b, i, s := true, 42, "x"
	var nilInt *int
	var nilValuer *ptrValuer
	cet := time.FixedZone("CET", 3600)
	cases := []struct {
		name string
		in   any
		want *messages.Value
	}{
		{"nil", nil, sqlvalue.Null()},
		{"bool", true, sqlvalue.Bool(true)},
		{"int", -3, sqlvalue.Int(-3)},
		{"int8", int8(-8), sqlvalue.Int(-8)},
		{"int16", int16(16), sqlvalue.Int(16)},
		{"int32", int32(32), sqlvalue.Int(32)},
		{"int64", int64(math.MinInt64), sqlvalue.Int(math.MinInt64)},
		{"uint", uint(1), sqlvalue.Int(1)},
		{"uint8", uint8(255), sqlvalue.Int(255)},
		{"uint16", uint16(65535), sqlvalue.Int(65535)},
		{"uint32", uint32(math.MaxUint32), sqlvalue.Int(math.MaxUint32)},
		{"uint64 max int64", uint64(math.MaxInt64), sqlvalue.Int(math.MaxInt64)},
		{"float32", float32(0.5), sqlvalue.Float(0.5)},
		{"float64", 2.25, sqlvalue.Float(2.25)},
		{"string", "s", sqlvalue.Text("s")},
		{"bytes", []byte("b"), sqlvalue.Bytes([]byte("b"))},
		{"empty bytes", []byte{}, sqlvalue.Bytes([]byte{})},
		{"nil bytes", []byte(nil), sqlvalue.Null()},
		{"time to UTC", when.In(cet), sqlvalue.Time(when)},
		{"json", json.RawMessage(`{"a":1}`), sqlvalue.JSON(`{"a":1}`)},
		{"nil json", json.RawMessage(nil), sqlvalue.Null()},
		{"numeric", sqlvalue.Numeric("12.50"), sqlvalue.NumericValue("12.50")},
		{"value", sqlvalue.Int(5), sqlvalue.Int(5)},
		{"nil value", (*messages.Value)(nil), sqlvalue.Null()},
		{"*bool", &b, sqlvalue.Bool(true)},
		{"*int", &i, sqlvalue.Int(42)},
		{"*string", &s, sqlvalue.Text("x")},
		{"nil *int", nilInt, sqlvalue.Null()},
		{"**int", func() **int { p := &i; return &p }(), sqlvalue.Int(42)},
		{"named int", myInt(9), sqlvalue.Int(9)},
		{"named string", myString("n"), sqlvalue.Text("n")},
		{"named bytes", myBytes("nb"), sqlvalue.Bytes([]byte("nb"))},
		{"sql.NullString valid", sql.NullString{String: "v", Valid: true}, sqlvalue.Text("v")},
		{"sql.NullString null", sql.NullString{}, sqlvalue.Null()},
		{"sql.NullTime", sql.NullTime{Time: when, Valid: true}, sqlvalue.Time(when)},
		{"valuer", valuer{v: int64(3)}, sqlvalue.Int(3)},
		{"valuer of valuer", valuer{v: valuer{v: "deep"}}, sqlvalue.Text("deep")},
		{"pointer valuer", &ptrValuer{s: "p"}, sqlvalue.Text("p")},
		{"nil pointer valuer", nilValuer, sqlvalue.Null()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := sqlvalue.FromGo(c.in)
			require.NoError(t, err)
			require.True(t, proto.Equal(c.want, got), "got %v, want %v", got, c.want)
		})
	}
}

func TestFromGoRefused(t *testing.T) {
	cases := []struct {
		name, typ string
		in        any
	}{
		{"uint64 above int64", "uint64", uint64(math.MaxInt64) + 1},
		{"uint above int64", "uint", uint(math.MaxUint)},
		{"struct", "struct { Secret string }", struct{ Secret string }{"secret"}},
		{"map", "map[string]int", map[string]int{"secret": 1}},
		{"int slice", "[]int", []int{1}},
		{"complex", "complex128", complex(1, 2)},
		{"channel", "chan int", make(chan int)},
		{"invalid json", "json.RawMessage", json.RawMessage(`{"secret"`)},
		{"invalid numeric", "sqlvalue.Numeric", sqlvalue.Numeric("secret")},
		{"time out of range", "time.Time", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"valuer error", "sqlvalue_test.valuer", valuer{err: errors.New("broken")}},
		{"valuer of struct", "sqlvalue_test.valuer", valuer{v: struct{}{}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := sqlvalue.FromGo(c.in)
			require.ErrorIs(t, err, messages.ErrInvalidArgument)
			require.NotContains(t, err.Error(), "secret")

			_, err = sqlvalue.FromGoArgs(1, "ok", c.in)
			require.ErrorIs(t, err, messages.ErrInvalidArgument)
			require.Contains(t, err.Error(), "argument $3")
			require.NotContains(t, err.Error(), "secret")
			if c.name != "valuer of struct" {
				require.Contains(t, err.Error(), c.typ)
			}
		})
	}
}

func TestFromGoArgs(t *testing.T) {
	got, err := sqlvalue.FromGoArgs()
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = sqlvalue.FromGoArgs(1, nil, "a")
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.True(t, proto.Equal(sqlvalue.Int(1), got[0]))
	require.True(t, proto.Equal(sqlvalue.Null(), got[1]))
	require.True(t, proto.Equal(sqlvalue.Text("a"), got[2]))
}

func TestToGo(t *testing.T) {
	cases := []struct {
		in   *messages.Value
		want any
	}{
		{nil, nil},
		{sqlvalue.Null(), nil},
		{sqlvalue.Bool(false), false},
		{sqlvalue.Int(1), int64(1)},
		{sqlvalue.Float(1.25), 1.25},
		{sqlvalue.Text("t"), "t"},
		{sqlvalue.Bytes([]byte{1}), []byte{1}},
		{sqlvalue.Time(when), when},
		{sqlvalue.NumericValue("1.10"), sqlvalue.Numeric("1.10")},
		{sqlvalue.JSON(`[1]`), json.RawMessage(`[1]`)},
	}
	for _, c := range cases {
		require.Equal(t, c.want, sqlvalue.ToGo(c.in), "%v", c.in)
	}
}

// Go → Value → driver argument and Go → Value → wire → Value → Go keep
// every kind and value.
func TestRoundTrip(t *testing.T) {
	ins := []any{nil, true, int64(-5), 3.5, "text", []byte{0, 9}, when,
		sqlvalue.Numeric("-123456789012345678901234567890.000000001"), json.RawMessage(`{"k":[true,null]}`)}
	vals, err := sqlvalue.FromGoArgs(ins...)
	require.NoError(t, err)
	// Across the wire.
	wire, err := proto.Marshal(&messages.Query{Args: vals})
	require.NoError(t, err)
	var q messages.Query
	require.NoError(t, proto.Unmarshal(wire, &q))
	for i, v := range q.GetArgs() {
		require.Equal(t, ins[i], sqlvalue.ToGo(v), "argument %d", i)
	}
	args, err := sqlvalue.Args(q.GetArgs())
	require.NoError(t, err)
	require.Equal(t, []any{nil, true, int64(-5), 3.5, "text", []byte{0, 9}, when,
		"-123456789012345678901234567890.000000001", `{"k":[true,null]}`}, args)
	// What a driver would scan back gives the same values.
	types := []string{"TEXT", "BOOL", "INT8", "FLOAT8", "TEXT", "BYTEA", "TIMESTAMPTZ", "NUMERIC", "JSONB"}
	for i, a := range args {
		v, err := sqlvalue.FromScan(a, types[i])
		require.NoError(t, err)
		require.True(t, proto.Equal(vals[i], v), "column %d: %v, want %v", i, v, vals[i])
	}
}

func TestFromScan(t *testing.T) {
	local := time.FixedZone("Local", -5*3600)
	cases := []struct {
		name   string
		in     any
		dbType string
		want   *messages.Value
	}{
		{"null", nil, "INT8", sqlvalue.Null()},
		{"bool", true, "BOOL", sqlvalue.Bool(true)},
		{"int", int64(3), "INT8", sqlvalue.Int(3)},
		{"int in an expression", int64(3), "", sqlvalue.Int(3)},
		{"float", 1.5, "FLOAT8", sqlvalue.Float(1.5)},
		{"text", "t", "TEXT", sqlvalue.Text("t")},
		{"bytes", []byte{1}, "BYTEA", sqlvalue.Bytes([]byte{1})},
		{"pg timestamptz to UTC", when.In(local), "TIMESTAMPTZ", sqlvalue.Time(when)},
		{"pg date", time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), "DATE", sqlvalue.Time(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC))},
		{"pg infinity", "infinity", "TIMESTAMPTZ", sqlvalue.Text("infinity")},
		{"time out of range", time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC), "TIMESTAMP", sqlvalue.Text("20000-01-01T00:00:00Z")},
		{"pg numeric", "12.50", "NUMERIC", sqlvalue.NumericValue("12.50")},
		{"pg numeric NaN", "NaN", "NUMERIC", sqlvalue.NumericValue("NaN")},
		{"pg json", []byte(`{"a":1}`), "JSON", sqlvalue.JSON(`{"a":1}`)},
		{"pg jsonb", []byte(`{"a": 1}`), "JSONB", sqlvalue.JSON(`{"a": 1}`)},
		{"pg xml", []byte(`<a/>`), "XML", sqlvalue.Text(`<a/>`)},
		{"pg uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "UUID", sqlvalue.Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
		{"pg interval", "1 day 02:00:00", "INTERVAL", sqlvalue.Text("1 day 02:00:00")},
		{"pg array", "{1,2}", "_INT4", sqlvalue.Text("{1,2}")},
		{"pg unknown oid", "$12.34", "790", sqlvalue.Text("$12.34")},
		{"sqlite boolean", int64(1), "BOOLEAN", sqlvalue.Bool(true)},
		{"sqlite boolean false", int64(0), "boolean", sqlvalue.Bool(false)},
		{"sqlite boolean other int", int64(2), "BOOLEAN", sqlvalue.Int(2)},
		{"sqlite numeric real", 12.5, "NUMERIC", sqlvalue.NumericValue("12.5")},
		{"sqlite numeric int", int64(12), "DECIMAL(10,2)", sqlvalue.NumericValue("12")},
		{"sqlite numeric huge", 1.2345678901234568e+29, "NUMERIC", sqlvalue.NumericValue("1.2345678901234568e+29")},
		{"sqlite numeric tiny", 0.000001, "NUMERIC", sqlvalue.NumericValue("0.000001")},
		{"sqlite numeric NaN stays float", math.Inf(1), "NUMERIC", sqlvalue.Float(math.Inf(1))},
		{"sqlite numeric text", "12.50", "decimal", sqlvalue.NumericValue("12.50")},
		{"sqlite numeric junk", "abc", "NUMERIC", sqlvalue.Text("abc")},
		{"sqlite json", `{"b":2}`, "JSON", sqlvalue.JSON(`{"b":2}`)},
		{"sqlite json invalid", `{"b":`, "JSON", sqlvalue.Text(`{"b":`)},
		{"sqlite json blob invalid", []byte{0xff}, "JSON", sqlvalue.Bytes([]byte{0xff})},
		{"sqlite time string", "2024-02-29 13:14:15.123456 +0000 UTC", "DATETIME", sqlvalue.Time(when)},
		{"sqlite time string monotonic", "2024-02-29 13:14:15.123456 +0000 UTC m=+0.001", "TIMESTAMP", sqlvalue.Time(when)},
		{"sqlite time RFC 3339", "2024-02-29T13:14:15.123456Z", "TIMESTAMP", sqlvalue.Time(when)},
		{"sqlite time offset", "2024-02-29 14:14:15.123456+01:00", "DATETIME", sqlvalue.Time(when)},
		{"sqlite date", "2024-02-29", "DATE", sqlvalue.Time(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC))},
		{"sqlite time junk", "soon", "DATE", sqlvalue.Text("soon")},
		{"time in an expression stays text", "2024-02-29", "", sqlvalue.Text("2024-02-29")},
		{"invalid UTF-8 text", "\xff", "TEXT", sqlvalue.Bytes([]byte{0xff})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := sqlvalue.FromScan(c.in, c.dbType)
			require.NoError(t, err)
			require.True(t, proto.Equal(c.want, got), "got %v, want %v", got, c.want)
		})
	}
	_, err := sqlvalue.FromScan(struct{}{}, "WEIRD")
	require.ErrorIs(t, err, messages.ErrUnsupported)
	require.True(t, strings.Contains(err.Error(), "WEIRD"))
}

func TestSize(t *testing.T) {
	require.Equal(t, 0, sqlvalue.Size(sqlvalue.Null()))
	require.Equal(t, 0, sqlvalue.Size(nil))
	small, big := sqlvalue.Size(sqlvalue.Text("a")), sqlvalue.Size(sqlvalue.Text(strings.Repeat("a", 1000)))
	require.Greater(t, big, 1000)
	require.Less(t, small, 10)
}
