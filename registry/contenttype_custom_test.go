package registry_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// myContentType is a custom content-type model: Edgy's columns and two more.
type myContentType struct {
	ID           int64   `db:"id,pk"`
	Name         string  `db:"name,size=100,index"`
	SchemaName   *string `db:"schema_name"`
	CollisionKey *string `db:"collision_key,unique"`
	App          *string `db:"app"`
	Weight       int64   `db:"weight,default=1"`
}

func customContentType(t *testing.T) *models.Model {
	t.Helper()
	def, err := models.FromStruct(myContentType{}, models.Table("my_contenttypes"))
	require.NoError(t, err)
	m, err := models.New(def)
	require.NoError(t, err)
	return m
}

// placeholder is the first bind parameter of the backend.
func placeholder(b backend, n int) string {
	if b.name == "postgres" {
		return "$" + string(rune('0'+n))
	}
	return "?"
}

// TestCustomContentType (issue 17, gap 3): Edgy's with_content_type=<a
// model>: a content-type model with extra columns, registered as
// "ContentType" in its own table, referenced by every other model.
func TestCustomContentType(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t), ContentType: customContentType(t)})
		ct := reg.ContentType()
		require.NotNil(t, ct, "a ContentType model turns content types on")
		require.Equal(t, "ContentType", ct.Name())
		require.Equal(t, "my_contenttypes", ct.Table())
		byName, err := reg.Model("ContentType")
		require.NoError(t, err)
		require.Same(t, ct, byName)
		_, has := ct.Column("app")
		require.True(t, has)

		company, err := reg.RegisterModel(ctx, Company{})
		require.NoError(t, err)
		col, ok := company.Column("content_type")
		require.True(t, ok)
		require.Equal(t, "my_contenttypes", col.GetReferencesTable())

		require.NoError(t, reg.CreateAll(ctx))
		require.NoError(t, reg.Connect(ctx))
		defer func() { require.NoError(t, reg.Disconnect(ctx)) }()
		db := reg.Database().DB()
		id, err := reg.NewContentType(ctx, db, "", "Company", "key-1")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "UPDATE my_contenttypes SET app = 'crm' WHERE id = "+placeholder(b, 1), id)
		require.NoError(t, err)
		var app string
		var weight int64
		require.NoError(t, db.QueryRowContext(ctx, "SELECT app, weight FROM my_contenttypes WHERE id = "+placeholder(b, 1), id).Scan(&app, &weight))
		require.Equal(t, "crm", app)
		require.Equal(t, int64(1), weight, "extra columns take their defaults")
		row, err := reg.ContentTypeByID(ctx, db, "", id)
		require.NoError(t, err)
		require.Equal(t, "Company", row.Name)
		_, err = db.ExecContext(ctx, "INSERT INTO "+qt(t, company, "")+" (name, content_type) VALUES ('acme', "+placeholder(b, 1)+")", id)
		require.NoError(t, err)

		// A copy gets a content type of its own, from the same custom model.
		cp, err := reg.Copy(ctx)
		require.NoError(t, err)
		defer func() { require.NoError(t, cp.Close(ctx)) }()
		require.NotSame(t, ct, cp.ContentType())
		_, has = cp.ContentType().Column("app")
		require.True(t, has)
	})
}

// TestCustomContentTypeInvalid: a model without Edgy's columns, or with an
// extra column NewContentType could not fill, is an invalid configuration.
func TestCustomContentTypeInvalid(t *testing.T) {
	def, err := models.FromStruct(Company{})
	require.NoError(t, err)
	m, err := models.New(def)
	require.NoError(t, err)
	_, err = registry.New(newSystem(t), registry.Config{Database: backends[0].url(t), ContentType: m})
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
	require.ErrorIs(t, err, models.ErrInvalidModel)
	require.ErrorContains(t, err, "collision_key")
}

// TestSharedContentType (issue 17, gap 3): a registry using another
// registry's content type (Edgy's with_content_type=other.content_type):
// one table, one set of rows, seen through either registry; the second
// registry's models reference the first's table, with the cascade; the
// content type is not registered in the second registry.
func TestSharedContentType(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		url := b.url(t)
		sys := newSystem(t)
		a := newRegistry(t, sys, registry.Config{Database: url, ContentType: customContentType(t)})
		other := newRegistry(t, sys, registry.Config{Database: url, ContentType: a.ContentType()})
		require.Same(t, a.ContentType(), other.ContentType())
		byName, err := other.Model("ContentType")
		require.NoError(t, err)
		require.Same(t, a.ContentType(), byName, "Edgy: get_model(\"ContentType\") is the foreign content type")
		require.Empty(t, other.Models(), "not registered in the second registry")
		require.Empty(t, other.TableNames())

		company, err := other.RegisterModel(ctx, Company{})
		require.NoError(t, err)
		col, ok := company.Column("content_type")
		require.True(t, ok)
		require.Equal(t, "my_contenttypes", col.GetReferencesTable(), "the first registry's table")
		require.Equal(t, "CASCADE", col.GetOnDelete())

		// The second registry creates its tables first: the first's
		// content-type table comes with them, so the reference resolves.
		require.NoError(t, other.CreateAll(ctx))
		require.NoError(t, a.CreateAll(ctx))
		require.NoError(t, a.Connect(ctx))
		defer func() { require.NoError(t, a.Disconnect(ctx)) }()
		require.NoError(t, other.Connect(ctx))
		defer func() { require.NoError(t, other.Disconnect(ctx)) }()
		adb, odb := a.Database().DB(), other.Database().DB()

		id, err := other.NewContentType(ctx, odb, "", "Company", "")
		require.NoError(t, err)
		row, err := a.ContentTypeByID(ctx, adb, "", id)
		require.NoError(t, err, "a row the second registry made is the first's")
		require.Equal(t, "Company", row.Name)
		id2, err := a.NewContentType(ctx, adb, "", "Company", "")
		require.NoError(t, err)
		row, err = other.ContentTypeByID(ctx, odb, "", id2)
		require.NoError(t, err)
		require.Equal(t, id2, row.ID)

		_, err = odb.ExecContext(ctx, "INSERT INTO "+qt(t, company, "")+" (name, content_type) VALUES ('acme', "+placeholder(b, 1)+")", id)
		require.NoError(t, err)
		_, err = adb.ExecContext(ctx, "DELETE FROM my_contenttypes WHERE id = "+placeholder(b, 1), id)
		require.NoError(t, err)
		var n int
		require.NoError(t, odb.QueryRowContext(ctx, "SELECT count(*) FROM "+qt(t, company, "")).Scan(&n))
		require.Zero(t, n, "deleting the content type cascades to the second registry's object")

		// The second registry's DropAll leaves the first's table alone.
		require.NoError(t, other.DropAll(ctx))
		_, err = a.ContentTypeByID(ctx, adb, "", id2)
		require.NoError(t, err)

		// A copy of the second registry shares the same content type.
		cp, err := other.Copy(ctx)
		require.NoError(t, err)
		defer func() { require.NoError(t, cp.Close(ctx)) }()
		require.Same(t, a.ContentType(), cp.ContentType())
	})
}

// TestSharedContentTypeOtherDatabase: shared across databases, the
// content_type column has no foreign key (Edgy's cross-database
// reference has no constraint), and the rows are still the owner's.
func TestSharedContentTypeOtherDatabase(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	sys := newSystem(t)
	a := newRegistry(t, sys, registry.Config{Database: "sqlite:///" + filepath.Join(dir, "a.db"), WithContentType: true})
	other := newRegistry(t, sys, registry.Config{Database: "sqlite:///" + filepath.Join(dir, "b.db"), ContentType: a.ContentType()})
	company, err := other.RegisterModel(ctx, Company{})
	require.NoError(t, err)
	col, ok := company.Column("content_type")
	require.True(t, ok)
	require.Empty(t, col.GetReferencesTable(), "no constraint across databases")
	require.NoError(t, other.CreateAll(ctx))
	require.NoError(t, a.CreateAll(ctx))
	require.NoError(t, a.Connect(ctx))
	defer func() { require.NoError(t, a.Disconnect(ctx)) }()
	// The rows live in the owner's database: write them there.
	id, err := other.NewContentType(ctx, a.Database().DB(), "", "Company", "")
	require.NoError(t, err)
	row, err := a.ContentTypeByID(ctx, a.Database().DB(), "", id)
	require.NoError(t, err)
	require.Equal(t, "Company", row.Name)
}
