package regactor

import (
	"runtime"
	"sync"
	"weak"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
)

// ContentTypes says which content types a registry has (Edgy's
// with_content_type): none, its own (Edgy's ContentType or a custom
// model), or another registry's.
type ContentTypes struct {
	// Own is the definition of the registry's own content-type model
	// (models.ContentTypeDef, or a custom one from models.ContentTypeFrom);
	// nil for none or a shared one.
	Own *messages.ModelDef
	// Shared is another registry's content-type model, used as it is: not
	// registered in this registry, its table and rows are the owner's.
	Shared *models.Model
	owner  ctOwner
}

// ctOwner is where a registry's own content-type table lives: the
// registry's main database, in the registry schema.
type ctOwner struct {
	state  *actors.State
	schema string
}

// owners maps each registry's own content-type model to its owner, so that
// a Config naming it (another registry's ContentType()) shares it. Keys are
// weak: an entry goes when its model does.
var owners sync.Map // weak.Pointer[models.Model] → ctOwner

func noteOwner(m *models.Model, o ctOwner) {
	key := weak.Make(m)
	owners.Store(key, o)
	runtime.AddCleanup(m, func(k weak.Pointer[models.Model]) { owners.Delete(k) }, key)
}

// ContentTypesFor is the content types of a registry whose configuration
// names m (nil: Edgy's standard model when enabled, else none): m is
// another registry's content-type model, which is shared, or a custom
// model, validated by models.ContentTypeFrom.
func ContentTypesFor(m *models.Model, enabled bool) (ContentTypes, error) {
	if m == nil {
		if !enabled {
			return ContentTypes{}, nil
		}
		return ContentTypes{Own: models.ContentTypeDef()}, nil
	}
	if o, ok := owners.Load(weak.Make(m)); ok {
		return ContentTypes{Shared: m, owner: o.(ctOwner)}, nil
	}
	ct, err := models.ContentTypeFrom(m)
	if err != nil {
		return ContentTypes{}, err
	}
	return ContentTypes{Own: ct.Def()}, nil
}

// setContentTypes sets the registry's content types up: its own model
// registered (exactly as Edgy does, with a persistent callback for every
// model that adds the content_type reference to each), or another
// registry's used as it is, with the same callback. main is the registry's
// main database and schema the registry schema.
func (b *book) setContentTypes(cts ContentTypes, main *actors.State) error {
	var ct *models.Model
	sameTable := func(m *models.Model) bool { return m.Database() == ct.Database() && m.Schema() == ct.Schema() }
	switch {
	case cts.Own != nil:
		reg, err := b.register(cts.Own, messages.OnConflict_ON_CONFLICT_ERROR)
		if err != nil {
			return err
		}
		ct = reg.Entry.Model
		noteOwner(ct, ctOwner{state: main, schema: b.schema})
	case cts.Shared != nil:
		ct = cts.Shared
		b.sharedFrom = cts.owner.state
		b.sharedCT = sameDatabase(cts.owner.state, main) && cts.owner.schema == b.schema
		// The owner's table is in reach of a foreign key only from this
		// registry's main database, in the same schema.
		sameTable = func(m *models.Model) bool { return b.sharedCT && m.Database() == "" && m.Schema() == ct.Schema() }
	default:
		return nil
	}
	b.contentType = ct // set once, before the actor runs
	b.subscribe("", new(false), callbackTarget{run: func(m *models.Model) { injectContentType(ct, m, sameTable(m)) }})
	return nil
}

// sameDatabase reports whether two databases are one: the same actor
// (shared), or the same URL (users, hosts and ports, database name or
// file, passwords aside) of a database that is not in memory.
func sameDatabase(a, b *actors.State) bool {
	if a == nil || b == nil {
		return false
	}
	if a == b {
		return true
	}
	return !a.Memory() && !b.Memory() && a.Dialect() == b.Dialect() && a.RedactedURL() == b.RedactedURL()
}

// injectContentType adds the content_type column to m unless m opted out,
// is the content type itself, or already has a content_type column or a
// reference to the content types. The foreign key (ON DELETE CASCADE) is
// only added where the reference resolves (fk): a table's references point
// into its own schema of its own database (SQLite cannot reference another
// attached file), so a model bound to another database or another schema
// than the content types gets the column without the constraint (Edgy's
// cross-database reference has no constraint either).
func injectContentType(ct, m *models.Model, fk bool) {
	if m == ct || m.NoContentType() || m.Name() == models.ContentTypeModel {
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
	if fk {
		col.ReferencesTable, col.ReferencesColumn, col.OnDelete = ct.Table(), "id", "CASCADE"
	}
	_ = m.AddColumn(col) // valid by construction: the name is free
}
