package registry_test

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

type Company struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name"`
}

type Tag struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name"`
}

// Spec §1.13 N1–N6: the ContentType model, the content_type reference every
// other model gets through a persistent all-models callback, and the
// cascade from a content type to its object.
func TestContentTypes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t), WithContentType: true})
		ct := reg.ContentType()
		require.NotNil(t, ct)
		byName, err := reg.Model("ContentType")
		require.NoError(t, err)
		require.Same(t, ct, byName)
		require.Equal(t, "contenttypes", ct.Table())
		_, has := ct.Column("content_type")
		require.False(t, has, "the content type has no content type")
		require.Zero(t, reg.Callbacks(), "the registry's own callback is not a user callback")

		company, err := reg.RegisterModel(ctx, Company{})
		require.NoError(t, err)
		col, ok := company.Column("content_type")
		require.True(t, ok, "injected by the content-type callback")
		require.True(t, col.GetUnique())
		require.False(t, col.GetNullable())
		require.Equal(t, "contenttypes", col.GetReferencesTable())
		require.Equal(t, "CASCADE", col.GetOnDelete())

		tag, err := reg.RegisterModel(ctx, Tag{}, models.NoContentType())
		require.NoError(t, err)
		_, has = tag.Column("content_type")
		require.False(t, has, "opted out")

		require.NoError(t, reg.CreateAll(ctx))
		require.NoError(t, reg.Connect(ctx))
		defer func() { require.NoError(t, reg.Disconnect(ctx)) }()
		db := reg.Database().DB()
		ph := "?"
		if b.name == "postgres" {
			ph = "$1"
		}

		id, err := reg.NewContentType(ctx, db, "", company.Name(), "")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "INSERT INTO "+qt(t, company, "")+" (name, content_type) VALUES ('acme', "+ph+")", id)
		require.NoError(t, err)
		row, err := reg.ContentTypeByID(ctx, db, "", id)
		require.NoError(t, err)
		require.Equal(t, "Company", row.Name)
		require.False(t, row.SchemaName.Valid)

		// content_type is unique and not null.
		_, err = db.ExecContext(ctx, "INSERT INTO "+qt(t, company, "")+" (name, content_type) VALUES ('dup', "+ph+")", id)
		require.Error(t, err)
		_, err = db.ExecContext(ctx, "INSERT INTO "+qt(t, company, "")+" (name) VALUES ('none')")
		require.Error(t, err)

		// A duplicate collision key is refused.
		_, err = reg.NewContentType(ctx, db, "", "Company", "k1")
		require.NoError(t, err)
		_, err = reg.NewContentType(ctx, db, "", "Company", "k1")
		require.Error(t, err)

		// Deleting the content type deletes its object.
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+qt(t, company, "")).Scan(&n))
		require.Equal(t, 1, n)
		_, err = db.ExecContext(ctx, "DELETE FROM "+qt(t, ct, "")+" WHERE id = "+ph, id)
		require.NoError(t, err)
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+qt(t, company, "")).Scan(&n))
		require.Equal(t, 0, n, "ON DELETE CASCADE")
		_, err = reg.ContentTypeByID(ctx, db, "", id)
		require.True(t, errors.Is(err, sql.ErrNoRows))
	})
}

// Content types in a tenant schema: the tenant gets its own contenttypes
// table with the models, and the reference stays inside the tenant.
func TestContentTypesInTenant(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t), WithContentType: true})
		company, err := reg.RegisterModel(ctx, Company{})
		require.NoError(t, err)
		require.NoError(t, reg.CreateSchema(ctx, "tenant_a", registry.WithModels()))
		require.NoError(t, reg.Connect(ctx))
		defer func() { require.NoError(t, reg.Disconnect(ctx)) }()
		db := reg.Database().DB()
		ph := "?"
		if b.name == "postgres" {
			ph = "$1"
		}
		id, err := reg.NewContentType(ctx, db, "tenant_a", "Company", "")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "INSERT INTO "+qt(t, company, "tenant_a")+" (name, content_type) VALUES ('acme', "+ph+")", id)
		require.NoError(t, err)
		row, err := reg.ContentTypeByID(ctx, db, "tenant_a", id)
		require.NoError(t, err)
		require.Equal(t, "tenant_a", row.SchemaName.String)
		_, err = db.ExecContext(ctx, "DELETE FROM "+qt(t, reg.ContentType(), "tenant_a"))
		require.NoError(t, err)
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+qt(t, company, "tenant_a")).Scan(&n))
		require.Zero(t, n)
	})
}

func TestContentTypeHelpersWithout(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
	require.Nil(t, reg.ContentType())
	_, err := reg.Model("ContentType")
	require.ErrorIs(t, err, registry.ErrUnknownModel)
	_, err = reg.NewContentType(ctx, nil, "", "X", "")
	require.ErrorIs(t, err, registry.ErrUnknownModel)
}
