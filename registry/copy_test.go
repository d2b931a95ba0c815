package registry_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// Spec §1.14 P1–P5: a copy shares the databases (same counts), copies the
// models, not the user callbacks; with content types it has its own.
func TestCopy(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t), Extra: map[string]string{"other": backends[0].url(t)}, WithContentType: true})
	company, err := reg.RegisterModel(ctx, Company{})
	require.NoError(t, err)
	_, err = reg.RegisterModel(ctx, Tag{}, models.NoContentType(), models.Database("other"))
	require.NoError(t, err)
	rec := newRecorder()
	require.NoError(t, reg.RegisterCallback(ctx, "", sys.Root.Spawn(rec.props())))
	rec.wait(t, 3)

	cp, err := reg.Copy(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cp.Close(testCtx(t))) })

	// Same databases, same counts.
	require.NoError(t, cp.Connect(ctx))
	requireCount(t, reg.Database(), 1, true)
	other, err := reg.Extra("other")
	require.NoError(t, err)
	requireCount(t, other, 1, true)
	cpOther, err := cp.Extra("other")
	require.NoError(t, err)
	require.Same(t, other.DB(), cpOther.DB())
	require.NoError(t, cp.Disconnect(ctx))
	requireCount(t, reg.Database(), 0, false)

	// Copied models: the same names, distinct models, the copy's own
	// ContentType and references.
	require.Equal(t, reg.TableNames(), cp.TableNames())
	cc, err := cp.Model("Company")
	require.NoError(t, err)
	require.NotSame(t, company, cc)
	require.NotSame(t, reg.ContentType(), cp.ContentType())
	col, ok := cc.Column("content_type")
	require.True(t, ok)
	require.True(t, col.GetInjected())
	ctag, err := cp.Model("Tag")
	require.NoError(t, err)
	require.Equal(t, "other", ctag.Database())

	// User callbacks are not copied; models registered on the copy stay there.
	_, err = cp.RegisterModel(ctx, User{})
	require.NoError(t, err)
	_, err = reg.Model("User")
	require.ErrorIs(t, err, registry.ErrUnknownModel)
	_, err = reg.RegisterModel(ctx, User{}, models.Name("Probe"))
	require.NoError(t, err)
	rec.wait(t, 4)
	require.Equal(t, []string{"ContentType", "Company", "Tag", "Probe"}, rec.names())
	require.Zero(t, cp.Callbacks())

	// The copy's schema work uses the shared databases.
	require.NoError(t, cp.CreateAll(ctx))
	requireCount(t, reg.Database(), 0, false)

	// Closing the copy closes nothing of the original's.
	require.NoError(t, reg.Connect(ctx))
	require.NoError(t, cp.Close(ctx))
	requireCount(t, reg.Database(), 1, true)
	ping(t, reg.Database())
	require.ErrorIs(t, cp.Connect(ctx), registry.ErrClosed)
	require.NoError(t, reg.Disconnect(ctx))
}

// Closing the original closes the databases for the copy too.
func TestCopyOwnerCloses(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg, err := registry.New(sys, registry.Config{Database: backends[0].url(t)})
	require.NoError(t, err)
	cp, err := reg.Copy(ctx)
	require.NoError(t, err)
	require.NoError(t, cp.Connect(ctx))
	require.NoError(t, reg.Close(ctx))
	_, err = cp.Database().Connect(ctx)
	require.ErrorIs(t, err, registry.ErrClosed)
	require.Nil(t, cp.Database().DB())
	require.NoError(t, cp.Close(ctx))
	_, err = reg.Copy(ctx)
	require.ErrorIs(t, err, registry.ErrClosed)
}
