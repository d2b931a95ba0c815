package registry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/registry"
)

func requireSchemaError(t *testing.T, err error, database, contains string) *registry.SchemaError {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, registry.ErrSchema)
	var se *registry.SchemaError
	require.True(t, errors.As(err, &se), "%T: %v", err, err)
	require.Equal(t, database, se.Database)
	require.Contains(t, se.Message, contains)
	return se
}

// Spec §1.8 S2–S4 with deviation 3 and 4: the schema lifecycle and every
// failure, whether or not the registry is connected, counts untouched.
func TestSchemaLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t)})
		db := reg.Database()

		def, err := reg.DefaultSchema(ctx, "")
		require.NoError(t, err)
		want := map[string]string{"sqlite": "main", "postgres": "public"}[b.name]
		require.Equal(t, want, def)
		requireCount(t, db, 0, false)

		require.NoError(t, reg.CreateSchema(ctx, "tenant_a"))
		requireCount(t, db, 0, false)
		list, err := reg.Schemas(ctx, "")
		require.NoError(t, err)
		require.Contains(t, list, "tenant_a")
		require.Contains(t, list, def)

		// Already exists.
		se := requireSchemaError(t, reg.CreateSchema(ctx, "tenant_a"), "", "already exists")
		require.Equal(t, "tenant_a", se.Schema)
		if b.name == "postgres" {
			require.Equal(t, "42P06", se.SQLState)
		}
		require.NoError(t, reg.CreateSchema(ctx, "tenant_a", registry.IfNotExists()))

		// Dependent objects: connected this time, and the count survives.
		_, err = db.Connect(ctx)
		require.NoError(t, err)
		_, err = db.DB().ExecContext(ctx, `CREATE TABLE "tenant_a"."things" (id INTEGER PRIMARY KEY)`)
		require.NoError(t, err)
		se = requireSchemaError(t, reg.DropSchema(ctx, "tenant_a"), "", "depend")
		if b.name == "postgres" {
			require.Equal(t, "2BP01", se.SQLState)
		}
		requireCount(t, db, 1, true)
		require.NoError(t, reg.DropSchema(ctx, "tenant_a", registry.Cascade()))
		requireCount(t, db, 1, true)
		_, err = db.Disconnect(ctx)
		require.NoError(t, err)

		// Does not exist.
		requireSchemaError(t, reg.DropSchema(ctx, "tenant_a"), "", "does not exist")
		require.NoError(t, reg.DropSchema(ctx, "tenant_a", registry.IfExists()))
		list, err = reg.Schemas(ctx, "")
		require.NoError(t, err)
		require.NotContains(t, list, "tenant_a")
		requireCount(t, db, 0, false)
	})
}

func TestSchemaNames(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t)})
		before, err := reg.Schemas(ctx, "")
		require.NoError(t, err)

		for _, bad := range []string{"", strings.Repeat("s", 64), "a\x00b"} {
			for _, err := range []error{reg.CreateSchema(ctx, bad), reg.DropSchema(ctx, bad, registry.IfExists())} {
				require.ErrorIs(t, err, registry.ErrInvalidName, "%q", bad)
				require.NotErrorIs(t, err, registry.ErrSchema)
			}
		}
		after, err := reg.Schemas(ctx, "")
		require.NoError(t, err)
		require.Equal(t, before, after, "a refused name changes nothing")

		// Hostile but valid names are quoted, never interpolated.
		for _, odd := range []string{`we"ird`, "semi; DROP SCHEMA public CASCADE; --", "ünïcødé", strings.Repeat("x", 63)} {
			require.NoError(t, reg.CreateSchema(ctx, odd), "%q", odd)
			list, err := reg.Schemas(ctx, "")
			require.NoError(t, err)
			require.Contains(t, list, odd)
			require.NoError(t, reg.DropSchema(ctx, odd))
		}
		after, err = reg.Schemas(ctx, "")
		require.NoError(t, err)
		require.Equal(t, before, after)
	})
}

func TestSchemaOnDatabases(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t), Extra: map[string]string{"other": b.url(t)}})
		other, err := reg.Extra("other")
		require.NoError(t, err)

		require.NoError(t, reg.CreateSchema(ctx, "s1", registry.OnDatabases("other")))
		mainList, err := reg.Schemas(ctx, "")
		require.NoError(t, err)
		otherList, err := reg.Schemas(ctx, "other")
		require.NoError(t, err)
		require.NotContains(t, mainList, "s1")
		require.Contains(t, otherList, "s1")

		// Sequential, stops at the first failure, which names its database.
		err = reg.CreateSchema(ctx, "s1", registry.OnDatabases("", "other"))
		requireSchemaError(t, err, "other", "already exists")
		mainList, err = reg.Schemas(ctx, "")
		require.NoError(t, err)
		require.Contains(t, mainList, "s1", "the main database came first and succeeded")

		err = reg.CreateSchema(ctx, "s2", registry.OnDatabases("nope"))
		require.ErrorIs(t, err, registry.ErrUnknownDatabase)
		_, err = reg.Schemas(ctx, "nope")
		require.ErrorIs(t, err, registry.ErrUnknownDatabase)
		requireCount(t, reg.Database(), 0, false)
		requireCount(t, other, 0, false)
	})
}

func TestSchemaAfterClose(t *testing.T) {
	ctx := testCtx(t)
	reg, err := registry.New(newSystem(t), registry.Config{Database: backends[0].url(t)})
	require.NoError(t, err)
	require.NoError(t, reg.Close(ctx))
	require.ErrorIs(t, reg.CreateSchema(ctx, "x"), registry.ErrClosed)
	require.ErrorIs(t, reg.DropSchema(ctx, "x"), registry.ErrClosed)
	require.ErrorIs(t, reg.CreateAll(ctx), registry.ErrClosed)
	_, err = reg.Schemas(ctx, "")
	require.ErrorIs(t, err, registry.ErrClosed)
}

func TestQualifiedTable(t *testing.T) {
	q, err := registry.QualifiedTable("tenant_a", "users")
	require.NoError(t, err)
	require.Equal(t, `"tenant_a"."users"`, q)
	q, err = registry.QualifiedTable("", `we"ird`)
	require.NoError(t, err)
	require.Equal(t, `"we""ird"`, q)
	_, err = registry.QualifiedTable("a\x00", "users")
	require.ErrorIs(t, err, registry.ErrInvalidName)
	_, err = registry.QualifiedTable("a", "")
	require.ErrorIs(t, err, registry.ErrInvalidName)
}
