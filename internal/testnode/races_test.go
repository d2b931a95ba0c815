package testnode

import (
	"strings"
	"testing"
)

// A report of Proto.Actor's Shutdown race (as the race detector printed it
// in a child, trimmed), and the same shape with one of our functions as an
// access.
const shutdownRace = `==================
WARNING: DATA RACE
Write at 0x00c0000954c0 by goroutine 147:
  github.com/asynkron/protoactor-go/remote.(*endpointManager).stop()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/remote/endpoint_manager.go:115 +0x405
  github.com/asynkron/protoactor-go/remote.(*Remote).Shutdown()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/remote/server.go:92 +0x95
  github.com/dbactor/dbactor/node.(*Node).Close.func1()
      /tmp/fresh/node/node.go:218 +0xb1

Previous read at 0x00c0000954c0 by goroutine 56:
  github.com/asynkron/protoactor-go/remote.(*endpointManager).removeEndpoint()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/remote/endpoint_manager.go:248 +0x73
  github.com/asynkron/protoactor-go/remote.(*endpointManager).endpointEvent()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/remote/endpoint_manager.go:166 +0x1ae

Goroutine 147 (running) created at:
  github.com/dbactor/dbactor/node.(*Node).Close()
      /tmp/fresh/node/node.go:208 +0x112
==================
`

func TestRacesKnown(t *testing.T) {
	ours, theirs, known := races(shutdownRace)
	if len(ours) != 0 || len(theirs) != 0 || len(known) != 1 {
		t.Fatalf("ours %d, theirs %d, known %d; want the race known", len(ours), len(theirs), len(known))
	}
	// The same race with our function as the write is ours.
	mine := strings.Replace(shutdownRace, "github.com/asynkron/protoactor-go/remote.(*endpointManager).stop()", "github.com/dbactor/dbactor/node.(*Node).stop()", 1)
	if ours, _, known := races(mine); len(ours) != 1 || len(known) != 0 {
		t.Fatalf("ours %d, known %d; want it ours", len(ours), len(known))
	}
	// A dependency race of another kind needs AllowDependencyRaces.
	other := strings.ReplaceAll(strings.ReplaceAll(shutdownRace, "github.com/dbactor/dbactor/", "example.com/x/"), "removeEndpoint", "other")
	if _, theirs, known := races(other); len(theirs) != 1 || len(known) != 0 {
		t.Fatalf("theirs %d, known %d; want it theirs", len(theirs), len(known))
	}
}
