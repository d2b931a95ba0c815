package regactor

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/catalog"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
)

func userDef(name string) *messages.ModelDef {
	return &messages.ModelDef{Name: name, Columns: []*messages.ColumnDef{
		{Name: "id", Type: messages.ColumnType_COLUMN_TYPE_BIGINT, PrimaryKey: true},
	}}
}

// The registry keeps the catalog's K4 order when it turns callbacks into
// deliveries.
func TestBookDeliveryOrder(t *testing.T) {
	b := newBook("", map[string]bool{"": true})
	pid := func(id string) callbackTarget { return callbackTarget{pid: actor.NewPID("nonhost", id)} }
	yes, no := new(true), new(false)
	b.subscribe("", nil, pid("pg1"))
	b.subscribe("User", no, pid("pn1"))
	b.subscribe("", yes, pid("og1"))
	b.subscribe("User", nil, pid("on1"))
	b.subscribe("", nil, pid("pg2"))
	b.subscribe("User", nil, pid("on2"))
	b.subscribe("", yes, pid("og2"))
	b.subscribe("User", no, pid("pn2"))

	reg, err := b.register(userDef("User"), messages.OnConflict_ON_CONFLICT_ERROR)
	require.NoError(t, err)
	// The registration's event (fan-out builds one for all its actors).
	ev := b.event(reg.Entry)
	require.Equal(t, "User", ev.GetName())
	require.Equal(t, reg.Entry.Sequence, ev.GetSequence())
	require.Equal(t, []string{"on2", "on1", "og2", "og1", "pn1", "pn2", "pg1", "pg2"}, sentTo(reg.Fire))

	reg, err = b.register(userDef("Other"), messages.OnConflict_ON_CONFLICT_ERROR)
	require.NoError(t, err)
	require.Equal(t, "Other", b.event(reg.Entry).GetName())
	require.Equal(t, []string{"pg1", "pg2"}, sentTo(reg.Fire))

	// With content types, the registry's own persistent callback runs in
	// its place (first persistent general one) and sends nothing.
	c := newBook("", map[string]bool{"": true})
	require.NoError(t, c.setContentTypes(ContentTypes{Own: models.ContentTypeDef()}, nil))
	c.subscribe("", nil, pid("pg"))
	reg, err = c.register(userDef("User"), messages.OnConflict_ON_CONFLICT_ERROR)
	require.NoError(t, err)
	require.Equal(t, []string{"pg"}, sentTo(reg.Fire))
	_, injected := reg.Entry.Model.Column("content_type")
	require.True(t, injected)

	// Only the registry's own: no event is built.
	d := newBook("", map[string]bool{"": true})
	require.NoError(t, d.setContentTypes(ContentTypes{Own: models.ContentTypeDef()}, nil))
	reg, err = d.register(userDef("User"), messages.OnConflict_ON_CONFLICT_ERROR)
	require.NoError(t, err)
	require.Empty(t, sentTo(reg.Fire))
}

// sentTo lists the callback actors fire sends the event to, in order.
func sentTo(fire []catalog.Callback[callbackTarget]) []string {
	var ids []string
	for _, cb := range fire {
		if cb.Target.run == nil {
			ids = append(ids, cb.Target.pid.GetId())
		}
	}
	return ids
}

// Content types: the reference is a foreign key only where it resolves.
func TestContentTypeInjection(t *testing.T) {
	b := newBook("", map[string]bool{"": true, "x": true})
	require.NoError(t, b.setContentTypes(ContentTypes{Own: models.ContentTypeDef()}, nil))
	for _, tc := range []struct {
		def *messages.ModelDef
		fk  bool
	}{
		{userDef("Plain"), true},
		{&messages.ModelDef{Name: "InSchema", Schema: "blog", Columns: userDef("").Columns}, false},
		{&messages.ModelDef{Name: "InExtra", Database: "x", Columns: userDef("").Columns}, false},
	} {
		reg, err := b.register(tc.def, messages.OnConflict_ON_CONFLICT_ERROR)
		require.NoError(t, err)
		col, ok := reg.Entry.Model.Column("content_type")
		require.True(t, ok, tc.def.GetName())
		require.Equal(t, tc.fk, col.GetReferencesTable() != "", tc.def.GetName())
		require.False(t, col.GetNullable())
		require.True(t, col.GetUnique())
	}
	m, err := models.New(&messages.ModelDef{Name: "Own", Columns: append(userDef("").Columns,
		&messages.ColumnDef{Name: "content_type", Type: messages.ColumnType_COLUMN_TYPE_TEXT, Nullable: true})})
	require.NoError(t, err)
	injectContentType(b.contentType, m, true)
	col, _ := m.Column("content_type")
	require.Equal(t, messages.ColumnType_COLUMN_TYPE_TEXT, col.GetType(), "a content_type column of its own opts out")
}
