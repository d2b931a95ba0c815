package autogen_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/autogen"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// gooseFile is a goose SQL migration parsed back.
type gooseFile struct {
	noTx     bool
	up, down []string
}

// parseGoose reads a goose SQL file the way goose does: sections after
// -- +goose Up / Down, statements between StatementBegin and StatementEnd.
func parseGoose(t *testing.T, path string) gooseFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var f gooseFile
	var section *[]string
	var stmt []string
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch strings.TrimSpace(line) {
		case "-- +goose NO TRANSACTION":
			f.noTx = true
		case "-- +goose Up":
			section = &f.up
		case "-- +goose Down":
			section = &f.down
		case "-- +goose StatementBegin":
			require.False(t, in, "nested StatementBegin")
			in, stmt = true, nil
		case "-- +goose StatementEnd":
			require.True(t, in)
			require.NotNil(t, section, "statement outside a section")
			s := strings.TrimSpace(strings.Join(stmt, "\n"))
			require.True(t, strings.HasSuffix(s, ";"), s)
			*section = append(*section, strings.TrimSuffix(s, ";"))
			in = false
		default:
			if in {
				stmt = append(stmt, line)
			} else {
				require.True(t, line == "" || strings.HasPrefix(line, "--"), "stray line %q", line)
			}
		}
	}
	require.False(t, in, "unterminated statement")
	return f
}

func TestWriteLayoutAndNumbering(t *testing.T) {
	dir := t.TempDir()
	cs := []autogen.Change{
		{Database: "", Schema: "", Up: []string{"CREATE TABLE a (x int)"}, Down: []string{"DROP TABLE a"}},
		{Database: "", Schema: "billing", Up: []string{`CREATE TABLE "billing"."b" (x int)`}, Down: []string{`DROP TABLE "billing"."b"`}},
		{Database: "analytics", Up: []string{"CREATE TABLE c (s text DEFAULT 'a;b')"}, Down: []string{"DROP TABLE c"}},
		{Database: "", Schema: "tenant_a", Tenant: true, Up: []string{"ALTER TABLE u ADD COLUMN e text"}, Down: []string{"ALTER TABLE u DROP COLUMN e"}},
		{Database: "analytics", Schema: "x"}, // empty: nothing
	}
	files, err := autogen.Write(dir, "Add e-mail!", cs)
	require.NoError(t, err)
	require.Equal(t, []string{
		filepath.Join(dir, "default", "00001_add_e_mail.sql"),
		filepath.Join(dir, "analytics", "00001_add_e_mail.sql"),
		filepath.Join(dir, "default", "tenants", "00001_add_e_mail.sql"),
	}, files)

	main := parseGoose(t, files[0])
	require.False(t, main.noTx)
	require.Equal(t, []string{cs[0].Up[0], cs[1].Up[0]}, main.up, "up in order")
	require.Equal(t, []string{cs[1].Down[0], cs[0].Down[0]}, main.down, "down in reverse")
	require.Equal(t, cs[2].Up, parseGoose(t, files[1]).up, "a semicolon inside a statement stays")
	require.Equal(t, cs[3].Down, parseGoose(t, files[2]).down)

	// The next version follows the highest in the directory, goose
	// numbering (timestamps too); .go migrations count.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "analytics", "20240101120000_hand.sql"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "default", "00007_code.go"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "default", "notes.txt"), nil, 0o644))
	noTx := autogen.Change{Up: []string{"PRAGMA foreign_keys = off", "BEGIN", "COMMIT", "PRAGMA foreign_keys = on"}, NoTransaction: true}
	files, err = autogen.Write(dir, "next", []autogen.Change{cs[2], noTx})
	require.NoError(t, err)
	require.Equal(t, []string{
		filepath.Join(dir, "analytics", "20240101120001_next.sql"),
		filepath.Join(dir, "default", "00008_next.sql"),
	}, files)
	require.True(t, parseGoose(t, files[1]).noTx)

	v, err := autogen.NextVersion(filepath.Join(dir, "missing"))
	require.NoError(t, err)
	require.EqualValues(t, 1, v)
}

func TestWriteNothingAndErrors(t *testing.T) {
	dir := t.TempDir()
	files, err := autogen.Write(dir, "x", nil)
	require.NoError(t, err)
	require.Empty(t, files)
	files, err = autogen.Write(dir, "x", []autogen.Change{{Database: "a"}})
	require.NoError(t, err)
	require.Empty(t, files)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "an empty diff writes nothing")

	_, err = autogen.Write(dir, "--- !!", []autogen.Change{{Up: []string{"x"}}})
	require.ErrorIs(t, err, autogen.ErrInvalidName)
}

// TestWriteFromDiff: Diff → Write → the files parse back into the same
// statements, and applying them leaves nothing to do.
func TestWriteFromDiff(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := newRegistry(t, registry.Config{Database: b.url(t)})
		register(t, reg, owner{}, models.Name("Owner"))
		register(t, reg, pet{}, models.Name("Pet"))
		dir := t.TempDir()
		cs := diff(t, reg)
		files, err := autogen.Write(dir, "initial", cs)
		require.NoError(t, err)
		require.Equal(t, []string{filepath.Join(dir, "default", "00001_initial.sql")}, files)
		f := parseGoose(t, files[0])
		require.Equal(t, cs[0].Up, f.up)
		require.Equal(t, cs[0].Down, f.down)
		require.Equal(t, cs[0].NoTransaction, f.noTx)
		apply(t, reg.Database().DB(), f.noTx, f.up)
		cs = diff(t, reg)
		requireEmpty(t, cs)
		files, err = autogen.Write(dir, "again", cs)
		require.NoError(t, err)
		require.Empty(t, files)
	})
}
