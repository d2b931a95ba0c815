package autogen

import (
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
)

// carryOver copies into the desired tables what the live tables have and a
// model cannot express — CHECK constraints, indexes over several columns or
// expressions, partial indexes, foreign keys over several columns — so that
// a migration neither drops them nor, when SQLite rebuilds a table from its
// desired form, loses them. Models own what they can express; the rest of a
// table belongs to whoever made it (a hand-written migration, a DBA).
func carryOver(current, desired *schema.Schema) {
	for _, t := range desired.Tables {
		lt, ok := current.Table(t.Name)
		if !ok {
			continue
		}
		for _, a := range lt.Attrs {
			if c, ok := a.(*schema.Check); ok {
				cc := *c
				t.Attrs = append(t.Attrs, &cc)
			}
		}
		for _, idx := range lt.Indexes {
			if expressible(idx) {
				continue
			}
			if _, taken := t.Index(idx.Name); taken {
				continue
			}
			ni := &schema.Index{Name: idx.Name, Unique: idx.Unique, Table: t, Attrs: idx.Attrs}
			whole := true
			for _, p := range idx.Parts {
				np := *p
				if p.C != nil {
					c, ok := t.Column(p.C.Name)
					if !ok { // the column goes: the index goes with it
						whole = false
						break
					}
					np.C = c
				}
				ni.Parts = append(ni.Parts, &np)
			}
			if whole {
				t.Indexes = append(t.Indexes, ni)
			}
		}
		for _, fk := range lt.ForeignKeys {
			if len(fk.Columns) == 1 {
				continue
			}
			if _, taken := t.ForeignKey(fk.Symbol); taken {
				continue
			}
			nfk := &schema.ForeignKey{Symbol: fk.Symbol, Table: t, RefTable: fk.RefTable,
				RefColumns: fk.RefColumns, OnUpdate: fk.OnUpdate, OnDelete: fk.OnDelete}
			if fk.RefTable == lt {
				nfk.RefTable = t
			} else if rt, ok := desired.Table(fk.RefTable.Name); ok {
				nfk.RefTable = rt
			}
			whole := true
			for _, c := range fk.Columns {
				nc, ok := t.Column(c.Name)
				if !ok {
					whole = false
					break
				}
				nfk.Columns = append(nfk.Columns, nc)
			}
			if whole {
				t.ForeignKeys = append(t.ForeignKeys, nfk)
			}
		}
	}
}

// expressible reports whether a model can have the index: one column, no
// predicate (models.ColumnDef's index and unique).
func expressible(idx *schema.Index) bool {
	if len(idx.Parts) != 1 || idx.Parts[0].C == nil {
		return false
	}
	for _, a := range idx.Attrs {
		switch a.(type) {
		case *postgres.IndexPredicate, *sqlite.IndexPredicate:
			return false
		}
	}
	return true
}

// modelled drops the parts of changes that models have no say in: table
// attributes (comments…), and column changes that are only of comment,
// charset or collation.
func modelled(changes []schema.Change) []schema.Change {
	out := changes[:0]
	for _, c := range changes {
		mt, ok := c.(*schema.ModifyTable)
		if !ok {
			out = append(out, c)
			continue
		}
		kept := mt.Changes[:0]
		for _, tc := range mt.Changes {
			switch x := tc.(type) {
			case *schema.AddAttr, *schema.DropAttr, *schema.ModifyAttr:
				continue
			case *schema.ModifyColumn:
				if x.Change&^(schema.ChangeComment|schema.ChangeCharset|schema.ChangeCollate) == 0 {
					continue
				}
			}
			kept = append(kept, tc)
		}
		if mt.Changes = kept; len(kept) > 0 {
			out = append(out, mt)
		}
	}
	return out
}
