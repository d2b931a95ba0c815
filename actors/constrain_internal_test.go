package actors

import "testing"

// PREPARE TRANSACTION is found as PostgreSQL reads it: any case, any
// blanks, line and nested block comments before and between its words.
func TestDetaches(t *testing.T) {
	for sql, want := range map[string]bool{
		"PREPARE TRANSACTION 'x'":                                      true,
		"  prepare\n\ttransaction 'x'":                                 true,
		"-- c\nPrepare/* c */Transaction 'x'":                          true,
		"/* a /* nested */ still a comment */ PREPARE TRANSACTION 'x'": true,
		"/* a /* nested */ PREPARE TRANSACTION 'x' */ SELECT 1":        false,
		"PREPARE stmt AS SELECT 1":                                     false,
		"SELECT 'PREPARE TRANSACTION'":                                 false,
		"COMMIT PREPARED 'x'":                                          false,
		"/* unterminated PREPARE TRANSACTION":                          false,
		"":                                                             false,
	} {
		if got := detaches(sql); got != want {
			t.Errorf("detaches(%q) = %v, want %v", sql, got, want)
		}
	}
}

// SQLite's block comments do not nest; PostgreSQL's do.
func TestSkipBlanksNesting(t *testing.T) {
	const sql = "/* a /* b */ c */ SELECT 1"
	if got := skipBlanks(sql, false); got != "c */ SELECT 1" {
		t.Errorf("SQLite: %q", got)
	}
	if got := skipBlanks(sql, true); got != "SELECT 1" {
		t.Errorf("PostgreSQL: %q", got)
	}
}
