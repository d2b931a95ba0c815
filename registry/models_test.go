package registry_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

type User struct {
	ID    int64   `db:"id,pk"`
	Name  string  `db:"name"`
	Email *string `db:"email"`
}

type Post struct {
	ID     int64  `db:"id,pk"`
	UserID int64  `db:"user_id,references=users.id,ondelete=cascade"`
	Title  string `db:"title"`
}

func TestRegisterModel(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t), Extra: map[string]string{"other": backends[0].url(t)}})

	u, err := reg.RegisterModel(ctx, User{})
	require.NoError(t, err)
	require.Equal(t, "User", u.Name())
	require.Equal(t, "users", u.Table(), "Edgy's default table name")
	require.Equal(t, "", u.Database())
	got, err := reg.Model("User")
	require.NoError(t, err)
	require.Same(t, u, got)

	// on_conflict: error (default), keep, replace.
	_, err = reg.RegisterModel(ctx, User{}, models.Table("people"))
	require.ErrorIs(t, err, registry.ErrModelCollision)
	kept, err := reg.RegisterModel(ctx, User{}, models.Table("people"), models.KeepExisting())
	require.NoError(t, err)
	require.Same(t, u, kept)
	replaced, err := reg.RegisterModel(ctx, User{}, models.Table("people"), models.ReplaceExisting())
	require.NoError(t, err)
	require.NotSame(t, u, replaced)
	require.Equal(t, "people", replaced.Table())

	// Bound to an extra database and a schema; an unknown database is refused.
	p, err := reg.RegisterModel(ctx, &Post{}, models.Database("other"), models.Schema("blog"))
	require.NoError(t, err)
	require.Equal(t, "other", p.Database())
	require.Equal(t, "blog", p.Schema())
	_, err = reg.RegisterModel(ctx, Post{}, models.Name("Post2"), models.Database("nope"))
	require.ErrorIs(t, err, registry.ErrUnknownDatabase)

	require.Equal(t, []string{"people", "posts"}, reg.TableNames())
	require.Len(t, reg.Models(), 2)

	deleted, err := reg.DeleteModel(ctx, "User")
	require.NoError(t, err)
	require.True(t, deleted)
	deleted, err = reg.DeleteModel(ctx, "User")
	require.NoError(t, err)
	require.False(t, deleted)
	_, err = reg.Model("User")
	require.ErrorIs(t, err, registry.ErrUnknownModel)
	require.Equal(t, []string{"posts"}, reg.TableNames())
}

func TestInvalidModels(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
	type noPK struct {
		Name string
	}
	type dupCols struct {
		ID   int64  `db:"id,pk"`
		A    string `db:"name"`
		B    string `db:"NAME"`
		Tags []string
	}
	type unsupported struct {
		ID int64 `db:"id,pk"`
		M  map[string]int
	}
	for _, v := range []any{noPK{}, dupCols{}, unsupported{}, 42} {
		_, err := reg.RegisterModel(ctx, v)
		require.ErrorIs(t, err, models.ErrInvalidModel, "%T", v)
		var de *models.DefinitionError
		var fe *models.FieldError
		if _, isInt := v.(int); !isInt {
			require.True(t, errors.As(err, &de) || errors.As(err, &fe), "%T: %v", v, err)
		}
	}
	_, err := reg.RegisterModel(ctx, User{}, models.Table("bad\"\x00"))
	require.ErrorIs(t, err, models.ErrInvalidModel)

	// A definition is validated too: by models.New, and again for a
	// *models.Model that New did not build (the zero Model, a nil one).
	_, err = models.New(&messages.ModelDef{Name: "X"})
	require.ErrorIs(t, err, models.ErrInvalidModel)
	for _, m := range []*models.Model{{}, nil} {
		_, err = reg.RegisterModel(ctx, m)
		require.ErrorIs(t, err, models.ErrInvalidModel)
	}
	require.Empty(t, reg.Models())
}

// A model built from a definition (models.New, as one that crossed nodes)
// registers as it is, with the same on_conflict choices as a struct; the
// options that shape a struct's definition are refused with it.
func TestRegisterModelFromDefinition(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t), Extra: map[string]string{"other": backends[0].url(t)}})
	def, err := models.FromStruct(User{}, models.Table("people"), models.Database("other"))
	require.NoError(t, err)
	built, err := models.New(def)
	require.NoError(t, err)

	u, err := reg.RegisterModel(ctx, built)
	require.NoError(t, err)
	require.NotSame(t, built, u, "the registry keeps its own model")
	require.Equal(t, "User", u.Name())
	require.Equal(t, "people", u.Table())
	require.Equal(t, "other", u.Database())
	require.True(t, proto.Equal(def, u.Def()))

	_, err = reg.RegisterModel(ctx, built)
	require.ErrorIs(t, err, registry.ErrModelCollision)
	kept, err := reg.RegisterModel(ctx, built, models.KeepExisting())
	require.NoError(t, err)
	require.Same(t, u, kept)
	replaced, err := reg.RegisterModel(ctx, built, models.ReplaceExisting())
	require.NoError(t, err)
	require.NotSame(t, u, replaced)
	require.True(t, proto.Equal(def, replaced.Def()))

	for _, opt := range []models.Option{models.Name("Other"), models.Table("t"), models.Schema("s"), models.Database("other"), models.NoContentType()} {
		_, err = reg.RegisterModel(ctx, built, opt, models.KeepExisting())
		require.ErrorIs(t, err, models.ErrInvalidModel)
		var de *models.DefinitionError
		require.ErrorAs(t, err, &de)
	}

	// The definition's database must be configured, as for a struct.
	def.Name, def.Database = "Elsewhere", "nope"
	elsewhere, err := models.New(def)
	require.NoError(t, err)
	_, err = reg.RegisterModel(ctx, elsewhere)
	require.ErrorIs(t, err, registry.ErrUnknownDatabase)
	require.Len(t, reg.Models(), 1)
}

// Spec §1.12 I1: metadata is computed on first use, InitModels forces it,
// InvalidateModels clears it.
func TestLazyModelMetadata(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
	u, err := reg.RegisterModel(ctx, User{})
	require.NoError(t, err)
	p, err := reg.RegisterModel(ctx, Post{})
	require.NoError(t, err)
	require.False(t, u.Initialized(), "registering computes no table metadata")
	require.Zero(t, u.Inits())

	reg.InitModels()
	require.True(t, u.Initialized())
	require.True(t, p.Initialized())
	require.EqualValues(t, 1, u.Inits())
	reg.InitModels()
	require.EqualValues(t, 1, u.Inits(), "computed once")

	reg.InvalidateModels()
	require.False(t, u.Initialized())
	require.False(t, p.Initialized())

	// First use computes it again.
	require.NoError(t, reg.CreateAll(ctx))
	require.True(t, u.Initialized())
	require.EqualValues(t, 2, u.Inits())
}

// Spec §1.9 A1–A3 plus tenancy (§1.7 U3, §1.8 S2): one model set, one table
// per tenant schema, rows kept apart; dropping one tenant leaves the other.
func TestTenancy(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t)})
		u, err := reg.RegisterModel(ctx, User{})
		require.NoError(t, err)
		p, err := reg.RegisterModel(ctx, Post{})
		require.NoError(t, err)

		// create_all needs no connect and is idempotent.
		require.NoError(t, reg.CreateAll(ctx))
		require.NoError(t, reg.CreateAll(ctx))
		requireCount(t, reg.Database(), 0, false)

		tenants := map[string]int{"tenant_a": 3, "tenant_b": 5}
		for tenant := range tenants {
			require.NoError(t, reg.CreateSchema(ctx, tenant, registry.WithModels()))
		}
		require.NoError(t, reg.Connect(ctx))
		db := reg.Database().DB()
		ph := func(n int) string {
			if b.name == "postgres" {
				return fmt.Sprintf("$%d", n)
			}
			return "?"
		}
		for tenant, n := range tenants {
			for i := range n {
				var id int64
				require.NoError(t, db.QueryRowContext(ctx, "INSERT INTO "+qt(t, u, tenant)+" (name) VALUES ("+ph(1)+") RETURNING id",
					fmt.Sprintf("%s-%d", tenant, i)).Scan(&id))
				_, err := db.ExecContext(ctx, "INSERT INTO "+qt(t, p, tenant)+" (user_id, title) VALUES ("+ph(1)+", 'hello')", id)
				require.NoError(t, err)
			}
		}
		count := func(table string) int {
			var n int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n))
			return n
		}
		for tenant, n := range tenants {
			require.Equal(t, n, count(qt(t, u, tenant)), tenant)
			require.Equal(t, n, count(qt(t, p, tenant)), tenant)
		}
		require.Equal(t, 0, count(qt(t, u, "")), "the default schema's table is untouched")

		// A foreign key inside a tenant: deleting a user cascades to its posts.
		_, err = db.ExecContext(ctx, "DELETE FROM "+qt(t, u, "tenant_b")+" WHERE name = 'tenant_b-0'")
		require.NoError(t, err)
		require.Equal(t, 4, count(qt(t, p, "tenant_b")))

		require.NoError(t, reg.Disconnect(ctx))
		require.NoError(t, reg.DropSchema(ctx, "tenant_a", registry.Cascade()))
		require.NoError(t, reg.Connect(ctx))
		db = reg.Database().DB()
		_, err = db.ExecContext(ctx, "SELECT count(*) FROM "+qt(t, u, "tenant_a"))
		require.Error(t, err, "tenant_a is gone")
		require.Equal(t, 4, count(qt(t, u, "tenant_b")))
		require.NoError(t, reg.Disconnect(ctx))

		// drop_all without a registry schema drops the model tables only.
		require.NoError(t, reg.DropAll(ctx))
		require.NoError(t, reg.DropAll(ctx))
		list, err := reg.Schemas(ctx, "")
		require.NoError(t, err)
		require.Contains(t, list, "tenant_b")
		// Qualified with the default schema: SQLite resolves an unqualified
		// name missing from main to an attached schema's table.
		def, err := reg.DefaultSchema(ctx, "")
		require.NoError(t, err)
		require.NoError(t, reg.Connect(ctx))
		_, err = reg.Database().DB().ExecContext(ctx, "SELECT count(*) FROM "+qt(t, u, def))
		require.Error(t, err, "users is dropped")
		require.NoError(t, reg.Disconnect(ctx))
	})
}

// Spec §1.9 A1–A2 with a registry schema: create_all creates it, drop_all
// drops it with everything inside.
func TestCreateAllWithRegistrySchema(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t), Schema: "app"})
		u, err := reg.RegisterModel(ctx, User{})
		require.NoError(t, err)
		require.NoError(t, reg.CreateAll(ctx))
		require.NoError(t, reg.CreateAll(ctx))
		list, err := reg.Schemas(ctx, "")
		require.NoError(t, err)
		require.Contains(t, list, "app")

		require.NoError(t, reg.Connect(ctx))
		_, err = reg.Database().DB().ExecContext(ctx, "INSERT INTO "+qt(t, u, reg.Schema())+" (name) VALUES ('x')")
		require.NoError(t, err)
		require.NoError(t, reg.Disconnect(ctx))

		require.NoError(t, reg.DropAll(ctx))
		require.NoError(t, reg.DropAll(ctx))
		list, err = reg.Schemas(ctx, "")
		require.NoError(t, err)
		require.NotContains(t, list, "app")
		requireCount(t, reg.Database(), 0, false)
	})
}
