package regactor

import (
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
)

// setContentType registers the ContentType model (models.ContentTypeDef),
// then — exactly as Edgy does — a persistent callback for every model that
// adds the content_type reference to each of them.
func (b *book) setContentType() error {
	reg, _, err := b.register(models.ContentTypeDef(), messages.OnConflict_ON_CONFLICT_ERROR)
	if err != nil {
		return err
	}
	ct := reg.Entry.Model
	b.contentType = ct // set once, before the actor runs
	b.subscribe("", new(false), callbackTarget{run: func(m *models.Model) { injectContentType(ct, m) }})
	return nil
}

// injectContentType adds the content_type column to m unless m opted out,
// is the content type itself, or already has a content_type column or a
// reference to the content types. The foreign key (ON DELETE CASCADE) is
// only added where the reference resolves: a table's references point into
// its own schema of its own database (SQLite cannot reference another
// attached file), so a model bound to another database or another schema
// than the content types gets the column without the constraint (Edgy's
// cross-database reference has no constraint either).
func injectContentType(ct, m *models.Model) {
	if m == ct || m.NoContentType() {
		return
	}
	if _, has := m.Column(models.ContentTypeColumn); has {
		return
	}
	for _, c := range m.Columns() {
		if c.GetReferencesTable() == ct.Table() {
			return
		}
	}
	col := &messages.ColumnDef{
		Name: models.ContentTypeColumn, Type: messages.ColumnType_COLUMN_TYPE_BIGINT,
		Unique: true, Injected: true,
	}
	if m.Database() == ct.Database() && m.Schema() == ct.Schema() {
		col.ReferencesTable, col.ReferencesColumn, col.OnDelete = ct.Table(), "id", "CASCADE"
	}
	_ = m.AddColumn(col) // valid by construction: the name is free
}
