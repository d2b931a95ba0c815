package sqlvalue

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/messages"
)

// Numeric is an exact decimal number as its text ("12.50", "-1e-3", "NaN"):
// what a numeric Value carries. Pass one to FromGo to send a NUMERIC
// argument without going through float64; ToGo returns one for a numeric
// Value.
type Numeric string

// String returns the decimal text.
func (n Numeric) String() string { return string(n) }

// Null is the Value of SQL NULL: no kind set.
func Null() *messages.Value { return &messages.Value{} }

// Bool is a bool Value.
func Bool(b bool) *messages.Value { return &messages.Value{Kind: &messages.Value_Bool{Bool: b}} }

// Int is an integer Value.
func Int(i int64) *messages.Value { return &messages.Value{Kind: &messages.Value_Int{Int: i}} }

// Float is a floating-point Value.
func Float(f float64) *messages.Value { return &messages.Value{Kind: &messages.Value_Float{Float: f}} }

// Text is a text Value.
func Text(s string) *messages.Value { return &messages.Value{Kind: &messages.Value_Text{Text: s}} }

// Bytes is a binary Value.
func Bytes(b []byte) *messages.Value { return &messages.Value{Kind: &messages.Value_Bytes{Bytes: b}} }

// Time is a time Value, in UTC.
func Time(t time.Time) *messages.Value {
	return &messages.Value{Kind: &messages.Value_Time{Time: timestamppb.New(t.UTC())}}
}

// NumericValue is a numeric Value carrying the decimal text n (not checked:
// Args refuses one that is no decimal number).
func NumericValue(n string) *messages.Value {
	return &messages.Value{Kind: &messages.Value_Numeric{Numeric: n}}
}

// JSON is a json Value carrying the document text doc (not checked: Args
// refuses one that is not valid JSON).
func JSON(doc string) *messages.Value { return &messages.Value{Kind: &messages.Value_Json{Json: doc}} }

// Args converts the arguments of a Query or Exec into what database/sql
// passes to the driver: nil (NULL: no kind set, or a nil *Value), bool,
// int64, float64, string (text, and numeric and json as their text),
// []byte (never nil: an empty bytes Value is an empty value, not NULL) and
// time.Time in UTC. An argument that cannot be sent — a time that is no
// valid timestamp, a numeric that is no decimal number, a json that is not
// valid JSON — is an error wrapping messages.ErrInvalidArgument naming the
// argument by its 1-based position ($1, $2…), never its value.
func Args(vals []*messages.Value) ([]any, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := make([]any, len(vals))
	for i, v := range vals {
		a, err := arg(v)
		if err != nil {
			return nil, fmt.Errorf("%w: argument $%d: %s", messages.ErrInvalidArgument, i+1, err)
		}
		out[i] = a
	}
	return out, nil
}

func arg(v *messages.Value) (any, error) {
	switch k := v.GetKind().(type) {
	case nil:
		return nil, nil
	case *messages.Value_Bool:
		return k.Bool, nil
	case *messages.Value_Int:
		return k.Int, nil
	case *messages.Value_Float:
		return k.Float, nil
	case *messages.Value_Text:
		return k.Text, nil
	case *messages.Value_Bytes:
		if k.Bytes == nil {
			return []byte{}, nil // a nil []byte is NULL to pgx
		}
		return k.Bytes, nil
	case *messages.Value_Time:
		if err := k.Time.CheckValid(); err != nil {
			return nil, fmt.Errorf("time is not a valid timestamp (years 1 to 9999, nanos below 1e9)")
		}
		return k.Time.AsTime().UTC(), nil
	case *messages.Value_Numeric:
		if !ValidNumeric(k.Numeric) {
			return nil, fmt.Errorf("numeric is not a decimal number")
		}
		return k.Numeric, nil
	case *messages.Value_Json:
		if !json.Valid([]byte(k.Json)) {
			return nil, fmt.Errorf("json is not valid JSON")
		}
		return k.Json, nil
	}
	return nil, fmt.Errorf("unknown value kind %T", v.GetKind())
}

var decimal = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

// ValidNumeric reports whether s is a decimal number as a numeric Value
// carries it: optional sign, digits with an optional fraction, optional
// exponent ("12.50", "-.5", "1e-3"), or one of PostgreSQL's special values
// NaN, Infinity, -Infinity (any case, also inf). No spaces, no digit
// separators.
func ValidNumeric(s string) bool {
	switch strings.ToLower(s) {
	case "nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf":
		return true
	}
	return decimal.MatchString(s)
}

// maxValuerDepth bounds a chain of driver.Valuers returning Valuers.
const maxValuerDepth = 8

// FromGo converts a Go value into a Value: nil → NULL; bool; every int and
// uint kind → int (a uint above math.MaxInt64 is refused); float32,
// float64 → float; string → text; []byte → bytes (nil → NULL);
// time.Time → time in UTC (years 1 to 9999); json.RawMessage → json (nil
// → NULL; must be valid JSON); Numeric → numeric (must be a decimal
// number); a *messages.Value as it is. A pointer is followed (nil →
// NULL); a driver.Valuer (sql.NullString, …) is asked for its Value; a
// named type of one of those kinds converts like its kind. Anything else
// is an error wrapping messages.ErrInvalidArgument that names the type,
// never the value.
func FromGo(v any) (*messages.Value, error) {
	val, err := fromGo(v, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", messages.ErrInvalidArgument, err)
	}
	return val, nil
}

// FromGoArgs converts args with FromGo, for a Query or Exec. An error
// names the argument by its 1-based position ($1, $2…) and its type.
func FromGoArgs(args ...any) ([]*messages.Value, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make([]*messages.Value, len(args))
	for i, a := range args {
		v, err := fromGo(a, 0)
		if err != nil {
			return nil, fmt.Errorf("%w: argument $%d: %s", messages.ErrInvalidArgument, i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

// valueError describes a refused Go value by its type only.
type valueError struct {
	typ    string
	reason string
	err    error // a driver.Valuer's own error
}

func (e *valueError) Error() string {
	s := e.typ + ": " + e.reason
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func fromGo(v any, depth int) (*messages.Value, error) {
	switch x := v.(type) {
	case nil:
		return Null(), nil
	case *messages.Value:
		if x == nil {
			return Null(), nil
		}
		return x, nil
	case bool:
		return Bool(x), nil
	case int:
		return Int(int64(x)), nil
	case int8:
		return Int(int64(x)), nil
	case int16:
		return Int(int64(x)), nil
	case int32:
		return Int(int64(x)), nil
	case int64:
		return Int(x), nil
	case uint:
		return fromUint(uint64(x), v)
	case uint8:
		return Int(int64(x)), nil
	case uint16:
		return Int(int64(x)), nil
	case uint32:
		return Int(int64(x)), nil
	case uint64:
		return fromUint(x, v)
	case float32:
		return Float(float64(x)), nil
	case float64:
		return Float(x), nil
	case string:
		return Text(x), nil
	case []byte:
		if x == nil {
			return Null(), nil
		}
		return Bytes(x), nil
	case time.Time:
		return fromTime(x, v)
	case json.RawMessage:
		if x == nil {
			return Null(), nil
		}
		if !json.Valid(x) {
			return nil, &valueError{typ: fmt.Sprintf("%T", v), reason: "not valid JSON"}
		}
		return JSON(string(x)), nil
	case Numeric:
		if !ValidNumeric(string(x)) {
			return nil, &valueError{typ: fmt.Sprintf("%T", v), reason: "not a decimal number"}
		}
		return NumericValue(string(x)), nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && rv.IsNil() {
		return Null(), nil
	}
	if vr, ok := v.(driver.Valuer); ok {
		if depth >= maxValuerDepth {
			return nil, &valueError{typ: fmt.Sprintf("%T", v), reason: "driver.Valuer chain too deep"}
		}
		dv, err := callValuer(vr)
		if err != nil {
			return nil, &valueError{typ: fmt.Sprintf("%T", v), reason: "Value failed", err: err}
		}
		return fromGo(dv, depth+1)
	}
	switch rv.Kind() {
	case reflect.Pointer:
		if depth >= maxValuerDepth {
			return nil, &valueError{typ: fmt.Sprintf("%T", v), reason: "pointer chain too deep"}
		}
		return fromGo(rv.Elem().Interface(), depth+1)
	case reflect.Bool:
		return Bool(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Int(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fromUint(rv.Uint(), v)
	case reflect.Float32, reflect.Float64:
		return Float(rv.Float()), nil
	case reflect.String:
		return Text(rv.String()), nil
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			if rv.IsNil() {
				return Null(), nil
			}
			return Bytes(rv.Bytes()), nil
		}
	}
	return nil, &valueError{typ: fmt.Sprintf("%T", v), reason: "unsupported type"}
}

// callValuer calls Value, turning a panic (a nil receiver the method does
// not expect) into an error.
func callValuer(vr driver.Valuer) (dv driver.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked")
		}
	}()
	return vr.Value()
}

func fromUint(u uint64, v any) (*messages.Value, error) {
	if u > math.MaxInt64 {
		return nil, &valueError{typ: fmt.Sprintf("%T", v), reason: "above the largest int64"}
	}
	return Int(int64(u)), nil
}

func fromTime(t time.Time, v any) (*messages.Value, error) {
	ts := timestamppb.New(t.UTC())
	if ts.CheckValid() != nil {
		return nil, &valueError{typ: fmt.Sprintf("%T", v), reason: "outside years 1 to 9999"}
	}
	return &messages.Value{Kind: &messages.Value_Time{Time: ts}}, nil
}

// ToGo converts a Value into Go: nil (NULL), bool, int64, float64,
// string (text), []byte, time.Time (UTC), Numeric or json.RawMessage.
func ToGo(v *messages.Value) any {
	switch k := v.GetKind().(type) {
	case *messages.Value_Bool:
		return k.Bool
	case *messages.Value_Int:
		return k.Int
	case *messages.Value_Float:
		return k.Float
	case *messages.Value_Text:
		return k.Text
	case *messages.Value_Bytes:
		return k.Bytes
	case *messages.Value_Time:
		return k.Time.AsTime().UTC()
	case *messages.Value_Numeric:
		return Numeric(k.Numeric)
	case *messages.Value_Json:
		return json.RawMessage(k.Json)
	}
	return nil
}

// family is what a column's database type name says about its values.
type family int

const (
	famOther family = iota
	famBool
	famNumeric
	famJSON
	famTime
	famXML
)

// familyOf classifies a database type name: PostgreSQL's ("NUMERIC",
// "TIMESTAMPTZ") or an SQLite declared type ("decimal(10, 2)", "DATETIME").
func familyOf(dbType string) family {
	t := strings.ToUpper(strings.TrimSpace(dbType))
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	switch t {
	case "BOOL", "BOOLEAN":
		return famBool
	case "NUMERIC", "DECIMAL":
		return famNumeric
	case "JSON", "JSONB":
		return famJSON
	case "DATE", "DATETIME", "TIMESTAMP", "TIMESTAMPTZ",
		"TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE":
		return famTime
	case "XML":
		return famXML
	}
	return famOther
}

// FromScan converts one column value as database/sql scanning into an
// `any` gives it (from pgx's stdlib driver or modernc.org/sqlite: nil,
// bool, int64, float64, string, []byte, time.Time) into a Value, using
// the column's database type name (sql.ColumnType.DatabaseTypeName) for
// what the Go type does not say:
//
//   - NUMERIC/DECIMAL: a decimal string, an integer or a finite float →
//     numeric (floats, which only SQLite returns here, as their shortest
//     decimal text).
//   - JSON/JSONB: valid JSON text or bytes → json.
//   - BOOL/BOOLEAN: the integers 0 and 1 (SQLite) → bool.
//   - DATE/DATETIME/TIMESTAMP[TZ]: a string in one of the forms SQLite
//     stores times in → time.
//   - XML: bytes → text.
//
// Everything else keeps its Go type's kind: string → text (bytes when it
// is not valid UTF-8, which a protobuf string cannot carry), []byte →
// bytes, time.Time → time in UTC (text, RFC 3339, when outside years 1 to
// 9999). A value of another Go type is an error wrapping
// messages.ErrUnsupported.
func FromScan(v any, dbType string) (*messages.Value, error) {
	fam := familyOf(dbType)
	switch x := v.(type) {
	case nil:
		return Null(), nil
	case bool:
		return Bool(x), nil
	case int64:
		switch {
		case fam == famBool && (x == 0 || x == 1):
			return Bool(x == 1), nil
		case fam == famNumeric:
			return NumericValue(strconv.FormatInt(x, 10)), nil
		}
		return Int(x), nil
	case float64:
		if fam == famNumeric && !math.IsNaN(x) && !math.IsInf(x, 0) {
			return NumericValue(formatDecimal(x)), nil
		}
		return Float(x), nil
	case string:
		switch {
		case fam == famJSON && json.Valid([]byte(x)):
			return JSON(x), nil
		case fam == famNumeric && ValidNumeric(x):
			return NumericValue(x), nil
		case fam == famTime:
			if t, ok := parseTime(x); ok {
				return Time(t), nil
			}
		}
		if !utf8.ValidString(x) {
			return Bytes([]byte(x)), nil
		}
		return Text(x), nil
	case []byte:
		switch {
		case fam == famJSON && json.Valid(x):
			return JSON(string(x)), nil
		case fam == famXML && utf8.Valid(x):
			return Text(string(x)), nil
		}
		return Bytes(x), nil
	case time.Time:
		ts := timestamppb.New(x.UTC())
		if ts.CheckValid() != nil {
			return Text(x.Format(time.RFC3339Nano)), nil
		}
		return &messages.Value{Kind: &messages.Value_Time{Time: ts}}, nil
	}
	return nil, fmt.Errorf("%w: a column of type %q gave a value of Go type %T, which has no protocol Value", messages.ErrUnsupported, dbType, v)
}

// formatDecimal is the shortest decimal text of f that reads back as f,
// without an exponent unless f is very large or very small.
func formatDecimal(f float64) string {
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'e', -1, 64)
}

// timeLayouts are the forms SQLite holds times in: Go's time.String (how
// modernc.org/sqlite writes a time.Time by default) and the forms of
// SQLite's date functions (what modernc parses for DATE, DATETIME and
// TIMESTAMP columns).
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseTime reads a time in one of timeLayouts (a trailing Z is UTC, a
// monotonic clock reading " m=+…" is dropped); a time without a zone is
// UTC.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " m="); i > 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, "Z")
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// Size is about how many bytes v takes in a message: its encoded size.
func Size(v *messages.Value) int { return proto.Size(v) }
