package models

import "github.com/dbactor/dbactor/messages"

// KeepExisting makes a registration keep a model already registered under
// the name and return it, running no callbacks (Edgy's on_conflict="keep").
// [FromStruct] ignores it.
func KeepExisting() Option {
	return func(o *options) { o.onConflict = messages.OnConflict_ON_CONFLICT_KEEP }
}

// ReplaceExisting makes a registration delete a model already registered
// under the name first (Edgy's on_conflict="replace"). [FromStruct] ignores
// it.
func ReplaceExisting() Option {
	return func(o *options) { o.onConflict = messages.OnConflict_ON_CONFLICT_REPLACE }
}

// Registration is the request to register v as a model, in the form in
// which models cross nodes (what the registry's RegisterModel sends). v is
// either a Go struct, as for [FromStruct], whose definition opts shape; or a
// *[Model] (built with [New], say from a definition received from
// elsewhere), whose definition is taken as it is: Name, Table, Schema,
// Database and NoContentType are refused with it. Without [KeepExisting] or
// [ReplaceExisting] a taken name is an error (on_conflict="error"); the last
// of them wins.
//
// Errors match [ErrInvalidModel], as those of FromStruct and New do.
func Registration(v any, opts ...Option) (*messages.RegisterModel, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var def *messages.ModelDef
	if m, ok := v.(*Model); ok {
		if m == nil {
			return nil, &DefinitionError{Reason: "nil *models.Model"}
		}
		if o.definition {
			return nil, &DefinitionError{Model: m.Name(),
				Reason: "Name, Table, Schema, Database and NoContentType shape a Go struct's definition; a *models.Model has its own"}
		}
		def = m.Def()
		// Validated again: the zero Model is not usable, and a Model's
		// definition is what New accepted. (def is a clone already.)
		if _, err := Adopt(def); err != nil {
			return nil, err
		}
	} else {
		var err error
		if def, err = FromStruct(v, opts...); err != nil {
			return nil, err
		}
	}
	return &messages.RegisterModel{Model: def, OnConflict: o.onConflict}, nil
}
