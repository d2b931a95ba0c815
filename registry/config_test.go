package registry_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/registry"
)

// Spec R5: every bad extra name is reported; surrounding whitespace only
// warns.
func TestExtraNames(t *testing.T) {
	sys := newSystem(t)
	good := backends[0].url(t)
	var logs bytes.Buffer
	_, err := registry.New(sys, registry.Config{
		Database: good,
		Extra:    map[string]string{"": good, "   ": good, "\t": good, " spaced ": good, "fine": good},
	}, registry.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
	require.ErrorIs(t, err, registry.ErrInvalidName)
	var bad []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *registry.ConfigError
		require.ErrorAs(t, e, &ce)
		bad = append(bad, ce.Database)
	}
	require.ElementsMatch(t, []string{"", "   ", "\t"}, bad, "every invalid name, and only those")
	require.Contains(t, logs.String(), "surrounding whitespace")
	require.Contains(t, logs.String(), `" spaced "`)

	// Whitespace alone is fine.
	reg := newRegistry(t, sys, registry.Config{Database: good, Extra: map[string]string{" spaced ": good}})
	db, err := reg.Extra(" spaced ")
	require.NoError(t, err)
	require.Equal(t, " spaced ", db.Name())
}

func TestUnknownExtra(t *testing.T) {
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
	_, err := reg.Extra("nope")
	require.ErrorIs(t, err, registry.ErrUnknownDatabase)
	require.Contains(t, err.Error(), `"nope"`)
}

// Bad URLs: a typed error per database, all at once, never the password.
func TestConfigErrors(t *testing.T) {
	const secret = "Sup3r-S3cret-pw"
	tests := []struct {
		name string
		cfg  registry.Config
		bad  []string
	}{
		{"empty main", registry.Config{Database: ""}, []string{""}},
		{"blank main", registry.Config{Database: "   "}, []string{""}},
		{"unknown scheme", registry.Config{Database: "mysql://u:" + secret + "@h/db"}, []string{""}},
		{"garbage", registry.Config{Database: "::::"}, []string{""}},
		{"bad port with password", registry.Config{Database: "postgres://u:" + secret + "@127.0.0.1:99999/db"}, []string{""}},
		{"every bad extra", registry.Config{
			Database: "sqlite:///:memory:",
			Extra: map[string]string{
				"a": "redis://u:" + secret + "@h",
				"b": "sqlite:///:memory:",
				"c": "postgres://u:" + secret + "@h:notaport/db",
			},
		}, []string{"a", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := registry.New(nil, tt.cfg)
			require.Nil(t, reg)
			require.ErrorIs(t, err, registry.ErrInvalidConfig)
			require.NotContains(t, err.Error(), secret)
			require.NotContains(t, fmtAll(err), secret)
			var got []string
			for _, e := range unwrapAll(err) {
				var ce *registry.ConfigError
				require.ErrorAs(t, e, &ce)
				got = append(got, ce.Database)
			}
			require.Equal(t, tt.bad, got)
		})
	}
}

func TestHooksForUnknownDatabase(t *testing.T) {
	_, err := registry.New(nil, registry.Config{Database: "sqlite:///:memory:"},
		registry.WithHooks("ghost", actors.Hooks{}))
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
	require.ErrorIs(t, err, registry.ErrUnknownDatabase)
}

func TestSharedNameCollision(t *testing.T) {
	sys := newSystem(t)
	owner := newRegistry(t, sys, registry.Config{Database: "sqlite:///:memory:"})
	_, err := registry.New(sys, registry.Config{Database: "sqlite:///:memory:", Extra: map[string]string{"x": "sqlite:///:memory:"}},
		registry.WithExtraDatabase("x", owner.Database()))
	require.ErrorIs(t, err, registry.ErrInvalidName)

	other := registry.NewActorSystem(nil)
	defer other.Shutdown()
	_, err = registry.New(other, registry.Config{Database: "sqlite:///:memory:"}, registry.WithExtraDatabase("y", owner.Database()))
	require.ErrorIs(t, err, registry.ErrInvalidConfig, "a shared database must live in the same actor system")
}

// Passwords never appear in String(), URL() or Status.
func TestNoPasswordInDescriptions(t *testing.T) {
	const secret = "An0ther-S3cret"
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: "postgres://app:" + secret + "@127.0.0.1:1/app?connect_timeout=1",
		Extra:    map[string]string{"kv": "host=127.0.0.1 port=1 user=app password=" + secret + " dbname=x connect_timeout=1"},
	})
	for _, db := range reg.Databases() {
		require.NotContains(t, db.String(), secret)
		require.NotContains(t, db.URL(), secret)
		require.Contains(t, db.URL(), "xxxxx")
		st := status(t, db)
		require.NotContains(t, st.URL, secret)
		_, err := db.Connect(testCtx(t))
		require.Error(t, err)
		require.NotContains(t, err.Error(), secret)
	}
	require.NotContains(t, reg.String(), secret)
	err := reg.Connect(testCtx(t))
	require.Error(t, err)
	require.NotContains(t, fmtAll(err), secret)
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// fmtAll renders err every way a caller might print it.
func fmtAll(err error) string {
	var b strings.Builder
	for e := err; e != nil; e = errors.Unwrap(e) {
		b.WriteString(e.Error())
	}
	for _, e := range unwrapAll(err) {
		b.WriteString(e.Error())
	}
	return b.String()
}

func TestConfigStringRedacts(t *testing.T) {
	cfg := registry.Config{
		Database: "postgres://app:main-secret-pw@db:5432/app",
		Extra:    map[string]string{"b": "host=x password=kv-secret-pw", "a": "sqlite:///a.db"},
	}
	for _, out := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), cfg.LogValue().String()} {
		require.NotContains(t, out, "main-secret-pw")
		require.NotContains(t, out, "kv-secret-pw")
		require.Contains(t, out, "xxxxx")
		require.Less(t, strings.Index(out, `"a"`), strings.Index(out, `"b"`), "extras by name")
	}
}
