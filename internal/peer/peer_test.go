package peer_test

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/peer"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, p := range []peer.Peer{
		{Identity: "a", Address: "127.0.0.1:1"},
		{Identity: "spiffe://x/y", Address: "h:2", Write: true, Role: "r"},
		{Identity: "m", Address: "h:3", Write: true, Trusted: true},
	} {
		env := &actor.MessageEnvelope{Header: p.Header()}
		got, ok := peer.From(actor.UnwrapEnvelopeHeader(env))
		require.True(t, ok)
		require.Equal(t, p, got)
	}
	_, ok := peer.From(nil)
	require.False(t, ok, "no header: a local message")
	_, ok = peer.From(actor.UnwrapEnvelopeHeader(&actor.MessageEnvelope{Header: map[string]string{"other": "x"}}))
	require.False(t, ok)
	// Anything but the exact write value reads as read-only.
	got, _ := peer.From(actor.UnwrapEnvelopeHeader(&actor.MessageEnvelope{Header: map[string]string{
		peer.HeaderIdentity: "a", peer.HeaderAccess: "RW", peer.HeaderTrusted: "yes"}}))
	require.False(t, got.Write)
	require.False(t, got.Trusted)
}

func TestExportWithoutNode(t *testing.T) {
	sys := actor.NewActorSystem()
	peer.Export(sys, actor.NewPID(sys.Address(), "x"), false, "127.0.0.1:1") // no node: nothing to do, no panic
	peer.Export(nil, nil, false, "")
}
