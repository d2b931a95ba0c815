package autogen

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/dbactor/dbactor/internal/ident"
)

// SQLite statements of atlas's planner, unqualified (it plans for "main"),
// and where each names the object to qualify. SQLite takes the schema on the
// object a statement creates, alters or drops (CREATE INDEX "s"."i" ON "t":
// the table after ON stays unqualified, it is looked up in the index's
// schema) and on both tables of an INSERT … SELECT.
var (
	reObject = regexp.MustCompile("^(CREATE TABLE (?:IF NOT EXISTS )?|DROP TABLE (?:IF EXISTS )?|ALTER TABLE |CREATE (?:UNIQUE )?INDEX (?:IF NOT EXISTS )?|DROP INDEX (?:IF EXISTS )?)(`[^`]+`)")
	reInsert = regexp.MustCompile("^INSERT INTO (`[^`]+`)((?s).*) FROM (`[^`]+`)$")
)

// qualifySQLite qualifies an unqualified statement of atlas's SQLite
// planner with schema, for a model bound to a schema on SQLite (an attached
// database). Pragmas and transaction statements pass as they are; any other
// statement is an error, never a statement that would run in main.
func qualifySQLite(stmt, schema string) (string, error) {
	q := ident.Quote(schema) + "."
	switch {
	case strings.HasPrefix(stmt, "PRAGMA "), stmt == "BEGIN", stmt == "COMMIT":
		return stmt, nil
	case reInsert.MatchString(stmt):
		m := reInsert.FindStringSubmatch(stmt)
		return "INSERT INTO " + q + m[1] + m[2] + " FROM " + q + m[3], nil
	case reObject.MatchString(stmt):
		m := reObject.FindStringSubmatchIndex(stmt)
		return stmt[:m[3]] + q + stmt[m[4]:], nil
	}
	return "", fmt.Errorf("%w: cannot qualify SQLite statement for schema %q: %s", ErrUnsupported, schema, stmt)
}
