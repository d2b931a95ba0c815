package registry

import (
	"context"
	"fmt"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/models"
)

// NewContentType inserts a content-type row for an object of model (Edgy's
// default for a new object's content_type: name = the model's name,
// schema_name = the schema the object is written to) in the contenttypes
// table of schema ("": the registry schema, Config.Schema), and returns its
// id: the value for the object's content_type column. collisionKey, when
// not "", must be unique. q runs on the main database (Database().DB(), or
// a transaction on it) — for a content type shared from another registry
// (Config.ContentType), on the owner's main database, where its table is.
// See models.NewContentType.
func (r *Registry) NewContentType(ctx context.Context, q actors.Querier, schema, model, collisionKey string) (int64, error) {
	ct, err := r.contentTypes()
	if err != nil {
		return 0, err
	}
	if schema == "" {
		schema = r.Schema()
	}
	return models.NewContentType(ctx, q, r.contentTypeDialect(), ct, schema, model, collisionKey)
}

// ContentTypeByID reads the content-type row id from the contenttypes table
// of schema: which model (and schema) an object with that content_type
// belongs to. A missing row matches sql.ErrNoRows. See
// models.ContentTypeByID.
func (r *Registry) ContentTypeByID(ctx context.Context, q actors.Querier, schema string, id int64) (models.ContentTypeRow, error) {
	ct, err := r.contentTypes()
	if err != nil {
		return models.ContentTypeRow{}, err
	}
	if schema == "" {
		schema = r.Schema()
	}
	return models.ContentTypeByID(ctx, q, r.contentTypeDialect(), ct, schema, id)
}

// contentTypes is the content-type model, or ErrUnknownModel without
// content types.
func (r *Registry) contentTypes() (*models.Model, error) {
	if ct := r.ContentType(); ct != nil {
		return ct, nil
	}
	return nil, fmt.Errorf("%w: the registry has no content types (Config.WithContentType)", ErrUnknownModel)
}

// contentTypeDialect is the dialect of the database holding the
// content-type table: the owner's, for a content type shared from another
// registry.
func (r *Registry) contentTypeDialect() dsn.Dialect {
	if d := r.plan.ContentTypeDialect(); d != "" {
		return dsn.Dialect(d)
	}
	return dsn.Dialect(r.main.Dialect())
}
