// Package ident validates and quotes SQL identifiers (schema, table and column
// names) the same way for PostgreSQL and SQLite: validated first, then always
// quoted with pgx.Identifier, never interpolated.
package ident
