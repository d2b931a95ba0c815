package ident

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"tenant_a", true},
		{`we"ird; DROP TABLE x; --`, true},
		{"ünïcødé", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{strings.Repeat("é", 32), false}, // 64 bytes
		{"", false},
		{"a\x00b", false},
		{"\xff", false},
	} {
		err := Validate("schema", tc.name)
		if tc.ok {
			require.NoError(t, err, "%q", tc.name)
			continue
		}
		require.Error(t, err, "%q", tc.name)
		require.ErrorIs(t, err, ErrInvalid)
		var ie *Error
		require.True(t, errors.As(err, &ie))
		require.Equal(t, "schema", ie.Kind)
	}
}

func TestQuote(t *testing.T) {
	require.Equal(t, `"tenant_a"."users"`, Quote("tenant_a", "users"))
	require.Equal(t, `"users"`, Quote("", "users"))
	require.Equal(t, `"a""b"."c;d"`, Quote(`a"b`, "c;d"))
}
