package models

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/messages"
)

// qt is QualifiedTable for names the test knows are valid.
func (m *Model) qt(schema string) string {
	q, err := m.QualifiedTable(schema)
	if err != nil {
		panic(err)
	}
	return q
}

func TestQualifiedTableValidates(t *testing.T) {
	m, err := New(&messages.ModelDef{Name: "User", Columns: []*messages.ColumnDef{{Name: "id", Type: messages.ColumnType_COLUMN_TYPE_BIGINT, PrimaryKey: true}}})
	require.NoError(t, err)
	for _, bad := range []string{"tenant_a\x00evil", strings.Repeat("t", 64)} {
		_, err := m.QualifiedTable(bad)
		require.ErrorIs(t, err, messages.ErrInvalidName, "%q", bad)
	}
}
