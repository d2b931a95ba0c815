package catalog

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/messages"
)

type model struct{ name, table string }

func (m model) Name() string  { return m.name }
func (m model) Table() string { return m.table }

func m(name string) model { return model{name, name + "s"} }

func ptr(b bool) *bool { return &b }

// step is one action on a catalog: a registration or a subscription.
type step struct {
	register string // model name to register, or
	cb       string // callback target label to subscribe
	model    string // the callback's model ("" = all)
	oneTime  *bool
	// expectations
	fire   []string // register: targets fired, in order; subscribe: models fired
	stored *bool    // subscribe only
}

func run(t *testing.T, steps []step) *Catalog[model, string] {
	t.Helper()
	c := New[model, string]()
	for i, s := range steps {
		if s.register != "" {
			reg, err := c.Register(m(s.register), Error)
			require.NoError(t, err, "step %d", i)
			var got []string
			for _, cb := range reg.Fire {
				got = append(got, cb.Target)
			}
			require.Equal(t, s.fire, got, "step %d: register %s fired", i, s.register)
			continue
		}
		sub := c.AddCallback(s.model, s.oneTime, s.cb)
		var got []string
		for _, e := range sub.Fire {
			got = append(got, e.Model.Name())
		}
		require.Equal(t, s.fire, got, "step %d: subscribe %s fired", i, s.cb)
		if s.stored != nil {
			require.Equal(t, *s.stored, sub.Stored, "step %d: subscribe %s stored", i, s.cb)
		}
	}
	return c
}

func TestCallbackRules(t *testing.T) {
	yes, no := ptr(true), ptr(false)
	for _, tc := range []struct {
		name  string
		steps []step
		left  int // callbacks stored at the end
	}{
		{"K1 named defaults to one-time", []step{
			{cb: "a", model: "User", stored: yes},
			{register: "User", fire: []string{"a"}},
			{register: "Other"},
		}, 0},
		{"K1 all-models defaults to persistent", []step{
			{cb: "a", model: "", stored: yes},
			{register: "User", fire: []string{"a"}},
			{register: "Other", fire: []string{"a"}},
		}, 1},
		{"K1 explicit persistent named", []step{
			{cb: "a", model: "User", oneTime: no, stored: yes},
			{register: "User", fire: []string{"a"}},
		}, 1},
		{"K2 named fires at once for a registered model; one-time not stored (K3)", []step{
			{register: "User"},
			{cb: "a", model: "User", fire: []string{"User"}, stored: no},
		}, 0},
		{"K2 persistent named fires at once and is stored", []step{
			{register: "User"},
			{cb: "a", model: "User", oneTime: no, fire: []string{"User"}, stored: yes},
		}, 1},
		{"K2 all-models fires for every model in registration order", []step{
			{register: "B"}, {register: "A"}, {register: "C"},
			{cb: "a", model: "", fire: []string{"B", "A", "C"}, stored: yes},
		}, 1},
		{"K3 one-time all-models with models fires for all then is dropped", []step{
			{register: "B"}, {register: "A"},
			{cb: "a", model: "", oneTime: yes, fire: []string{"B", "A"}, stored: no},
			{register: "C"},
		}, 0},
		{"K3 one-time all-models without models fires only for the next model", []step{
			{cb: "a", model: "", oneTime: yes, stored: yes},
			{register: "A", fire: []string{"a"}},
			{register: "B"},
		}, 0},
		{"K2 named callback for an unregistered model does not fire", []step{
			{register: "Other"},
			{cb: "a", model: "User", stored: yes},
		}, 1},
		{"K4 full order", []step{
			{cb: "pg1", model: "", stored: yes},
			{cb: "pn1", model: "User", oneTime: no, stored: yes},
			{cb: "og1", model: "", oneTime: yes, stored: yes},
			{cb: "on1", model: "User", stored: yes},
			{cb: "pg2", model: "", stored: yes},
			{cb: "on2", model: "User", stored: yes},
			{cb: "og2", model: "", oneTime: yes, stored: yes},
			{cb: "pn2", model: "User", oneTime: no, stored: yes},
			{register: "User", fire: []string{"on2", "on1", "og2", "og1", "pn1", "pn2", "pg1", "pg2"}},
			{register: "Other", fire: []string{"pg1", "pg2"}},
		}, 4},
		{"K4 one-time callbacks of other models wait", []step{
			{cb: "a", model: "User"},
			{register: "Other"},
			{register: "User", fire: []string{"a"}},
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := run(t, tc.steps)
			require.Equal(t, tc.left, c.Callbacks())
		})
	}
}

func TestConflicts(t *testing.T) {
	c := New[model, string]()
	first, err := c.Register(model{"User", "users"}, Error)
	require.NoError(t, err)
	require.True(t, first.Changed)
	require.EqualValues(t, 1, first.Entry.Sequence)
	c.AddCallback("", nil, "all")

	_, err = c.Register(model{"User", "people"}, Error)
	var ce *CollisionError
	require.True(t, errors.As(err, &ce))
	require.ErrorIs(t, err, messages.ErrModelCollision)
	require.Equal(t, "User", ce.Name)

	kept, err := c.Register(model{"User", "people"}, Keep)
	require.NoError(t, err)
	require.False(t, kept.Changed)
	require.Empty(t, kept.Fire, "keep runs no callbacks (K5)")
	require.Equal(t, "users", kept.Entry.Model.table)

	rep, err := c.Register(model{"User", "people"}, Replace)
	require.NoError(t, err)
	require.True(t, rep.Changed)
	require.NotNil(t, rep.Replaced)
	require.Equal(t, "users", rep.Replaced.Model.table)
	require.Equal(t, []Callback[string]{{Model: "", Target: "all"}}, rep.Fire)
	e, ok := c.Get("User")
	require.True(t, ok)
	require.Equal(t, "people", e.Model.table)
	require.EqualValues(t, 2, e.Sequence)
	require.Equal(t, []string{"people"}, c.TableNames())
}

func TestDeleteAndOrder(t *testing.T) {
	c := New[model, string]()
	for _, n := range []string{"C", "A", "B"} {
		_, err := c.Register(m(n), Error)
		require.NoError(t, err)
	}
	require.True(t, c.Delete("A"))
	require.False(t, c.Delete("A"))
	var names []string
	for _, e := range c.Models() {
		names = append(names, e.Model.name)
	}
	require.Equal(t, []string{"C", "B"}, names)
	require.Equal(t, []string{"Bs", "Cs"}, c.TableNames())
	_, ok := c.Get("A")
	require.False(t, ok)
	require.Equal(t, 2, c.Len())
}

func TestRemoveCallbacks(t *testing.T) {
	c := New[model, string]()
	c.AddCallback("", nil, "x")
	c.AddCallback("User", nil, "x")
	c.AddCallback("User", nil, "y")
	require.Equal(t, 2, c.RemoveCallbacks(func(cb Callback[string]) bool { return cb.Target == "x" }))
	reg, err := c.Register(m("User"), Error)
	require.NoError(t, err)
	require.Len(t, reg.Fire, 1)
	require.Equal(t, "y", reg.Fire[0].Target)
}

// Undo puts the catalog back as it was before a registration: the model,
// a replaced model at its place, the consumed one-time callbacks in their
// order; the next registration fires exactly what the undone one did.
func TestUndo(t *testing.T) {
	fired := func(r Registration[model, string]) []string {
		var out []string
		for _, cb := range r.Fire {
			out = append(out, cb.Target)
		}
		return out
	}
	c := New[model, string]()
	c.AddCallback("B", nil, "on1")
	c.AddCallback("B", nil, "on2")
	c.AddCallback("", ptr(true), "og1")
	c.AddCallback("", ptr(false), "pg1")
	reg, err := c.Register(m("B"), Error)
	require.NoError(t, err)
	want := fired(reg)
	require.Equal(t, []string{"on2", "on1", "og1", "pg1"}, want)
	c.Undo(reg)
	require.Empty(t, c.Models())
	require.Equal(t, 4, c.Callbacks(), "the one-time callbacks wait again")
	again, err := c.Register(m("B"), Error)
	require.NoError(t, err)
	require.Equal(t, want, fired(again))
	require.Equal(t, reg.Entry.Sequence, again.Entry.Sequence)

	// Replace: the replaced model comes back at its place.
	for _, n := range []string{"C", "D"} {
		_, err := c.Register(m(n), Error)
		require.NoError(t, err)
	}
	reg, err = c.Register(model{"B", "other"}, Replace)
	require.NoError(t, err)
	require.Equal(t, []string{"C", "D", "B"}, names(c.Models()))
	c.Undo(reg)
	require.Equal(t, []string{"B", "C", "D"}, names(c.Models()))
	e, ok := c.Get("B")
	require.True(t, ok)
	require.Equal(t, "Bs", e.Model.table, "the replaced model")

	// Undo of an unchanged registration (Keep) is a no-op.
	keep, err := c.Register(m("C"), Keep)
	require.NoError(t, err)
	c.Undo(keep)
	require.Equal(t, []string{"B", "C", "D"}, names(c.Models()))
	require.Equal(t, 1, c.Callbacks())
}

func names(es []Entry[model]) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Model.name)
	}
	return out
}
