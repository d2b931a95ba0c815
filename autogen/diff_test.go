package autogen_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/autogen"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

type orgV1 struct {
	ID    int64  `db:"id,pk"`
	Title string `db:"title"`
}

type userV1 struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name,size=100,index"`
}

type userV2 struct {
	ID     int64   `db:"id,pk"`
	Name   string  `db:"name,size=100,index"`
	Email  *string `db:"email,unique"`
	OrgID  *int64  `db:"org_id,references=orgs.id,ondelete=cascade,index"`
	Active bool    `db:"active,default=true"`
}

func register(t *testing.T, reg *registry.Registry, v any, opts ...models.Option) {
	t.Helper()
	_, err := reg.RegisterModel(testCtx(t), v, append([]models.Option{models.ReplaceExisting()}, opts...)...)
	require.NoError(t, err)
}

func joined(cs []autogen.Change) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(strings.Join(c.Up, ";\n"))
	}
	return b.String()
}

// TestRoundTrip: models → diff → apply → empty; a new field → ADD COLUMN →
// apply → empty; Down → the previous state.
func TestRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, registry.Config{Database: b.url(t)})
		register(t, reg, orgV1{}, models.Name("Org"))
		register(t, reg, userV1{}, models.Name("User"))

		cs := diff(t, reg)
		require.Len(t, cs, 1)
		require.Equal(t, "", cs[0].Database)
		require.Equal(t, "", cs[0].Schema)
		up := joined(cs)
		t.Logf("v1 up:\n%s\ndown:\n%s", up, strings.Join(cs[0].Down, ";\n"))
		require.Contains(t, up, "CREATE TABLE")
		require.Contains(t, up, "users")
		require.Contains(t, up, "orgs")
		require.Contains(t, up, "users_name_idx")
		applyUp(t, reg, cs)
		requireEmpty(t, diff(t, reg))

		register(t, reg, userV2{}, models.Name("User"))
		cs2 := diff(t, reg)
		require.Len(t, cs2, 1)
		up2 := joined(cs2)
		t.Logf("v2 up:\n%s\ndown:\n%s", up2, strings.Join(cs2[0].Down, ";\n"))
		require.Contains(t, up2, "email")
		require.Contains(t, up2, "org_id")
		require.Contains(t, up2, "active")
		applyUp(t, reg, cs2)
		requireEmpty(t, diff(t, reg))

		// Down returns to v1: with the v1 model, nothing differs.
		applyDown(t, reg, cs2)
		register(t, reg, userV1{}, models.Name("User"))
		requireEmpty(t, diff(t, reg))
		// and down of v1 leaves nothing.
		applyDown(t, reg, cs)
		require.Equal(t, cs, diff(t, reg))
	})
}
