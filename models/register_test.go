package models

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/messages"
)

type regUser struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name"`
}

// Registration of a Go struct: the definition FromStruct derives with the
// same options, and on_conflict from KeepExisting / ReplaceExisting (the
// last wins; "error" without either). FromStruct ignores both.
func TestRegistrationOfStruct(t *testing.T) {
	want, err := FromStruct(regUser{}, Name("User"), Table("people"), Schema("s"), Database("d"), NoContentType())
	require.NoError(t, err)
	withConflict, err := FromStruct(regUser{}, Name("User"), KeepExisting(), Table("people"), Schema("s"), ReplaceExisting(), Database("d"), NoContentType())
	require.NoError(t, err)
	require.True(t, proto.Equal(want, withConflict), "FromStruct ignores the on-conflict options")

	for _, tc := range []struct {
		label string
		opts  []Option
		want  messages.OnConflict
	}{
		{"default", nil, messages.OnConflict_ON_CONFLICT_ERROR},
		{"keep", []Option{KeepExisting()}, messages.OnConflict_ON_CONFLICT_KEEP},
		{"replace", []Option{ReplaceExisting()}, messages.OnConflict_ON_CONFLICT_REPLACE},
		{"last wins", []Option{ReplaceExisting(), KeepExisting()}, messages.OnConflict_ON_CONFLICT_KEEP},
	} {
		opts := append([]Option{Name("User"), Table("people"), Schema("s"), Database("d"), NoContentType()}, tc.opts...)
		req, err := Registration(&regUser{}, opts...)
		require.NoError(t, err, tc.label)
		require.Equal(t, tc.want, req.GetOnConflict(), tc.label)
		require.True(t, proto.Equal(want, req.GetModel()), tc.label)
	}

	// A struct FromStruct refuses is refused alike.
	_, err = Registration(struct{ Name string }{}, Name("X"))
	require.ErrorIs(t, err, ErrInvalidModel)
	_, err = Registration(42)
	require.ErrorIs(t, err, ErrInvalidModel)
}

// Registration of a *Model: its definition as it is (a clone), with the
// on-conflict options only; the options that shape a struct's definition,
// a nil *Model and the zero Model are refused.
func TestRegistrationOfModel(t *testing.T) {
	def, err := FromStruct(regUser{}, Table("people"))
	require.NoError(t, err)
	m, err := New(def)
	require.NoError(t, err)

	req, err := Registration(m, ReplaceExisting())
	require.NoError(t, err)
	require.Equal(t, messages.OnConflict_ON_CONFLICT_REPLACE, req.GetOnConflict())
	require.True(t, proto.Equal(m.Def(), req.GetModel()))
	req.GetModel().Name = "Changed"
	require.Equal(t, "regUser", m.Name(), "the request holds a clone")

	for _, opt := range []Option{Name("X"), Table("t"), Schema("s"), Database("d"), NoContentType()} {
		_, err := Registration(m, KeepExisting(), opt)
		var de *DefinitionError
		require.True(t, errors.As(err, &de), "%v", err)
		require.ErrorIs(t, err, ErrInvalidModel)
		require.Equal(t, "regUser", de.Model)
	}
	for _, bad := range []*Model{nil, {}} {
		_, err := Registration(bad)
		require.ErrorIs(t, err, ErrInvalidModel)
	}
}
