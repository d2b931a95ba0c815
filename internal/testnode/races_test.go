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

// readerRace is Proto.Actor's send on an endpoint reader's closed
// disconnect channel, as a child reported it (its accesses in the runtime).
const readerRace = `==================
WARNING: DATA RACE
Read at 0x00c000052390 by goroutine 71:
  runtime.chansend()
      /usr/local/go/src/runtime/chan.go:176 +0x0
  github.com/asynkron/protoactor-go/remote.(*endpointManager).stop.func1()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/remote/endpoint_manager.go:119 +0x5d
  internal/sync.(*HashTrieMap[go.shape.interface {},go.shape.interface {}]).iter()
      /usr/local/go/src/internal/sync/hashtriemap.go:512 +0x115
  github.com/asynkron/protoactor-go/remote.(*Remote).Shutdown()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/remote/server.go:92 +0x95
  github.com/dbactor/dbactor/node.(*Node).Close.func1()
      /tmp/fresh4/node/node.go:218 +0xb1

Previous write at 0x00c000052390 by goroutine 45:
  runtime.closechan()
      /usr/local/go/src/runtime/chan.go:414 +0x0
  github.com/asynkron/protoactor-go/remote.(*endpointReader).Receive.func1()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/remote/endpoint_reader.go:43 +0xa8
  runtime.deferreturn()
      /usr/local/go/src/runtime/panic.go:668 +0x5d
  github.com/asynkron/protoactor-go/remote._Remoting_Receive_Handler()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/remote/remote_grpc.pb.go:124 +0xe5
  github.com/dbactor/dbactor/node.(*boundary).serverStream()
      /tmp/fresh4/node/boundary.go:128 +0x77d

Goroutine 71 (running) created at:
  github.com/dbactor/dbactor/node.(*Node).Close()
      /tmp/fresh4/node/node.go:208 +0x112
==================
`

// blockListRace is Proto.Actor's cluster race (TestClusterTwoMembers, in
// the isolated test process), without its goroutines' origins.
const blockListRace = `==================
WARNING: DATA RACE
Write at 0x00c0002750c8 by goroutine 99:
  github.com/asynkron/protoactor-go/remote.(*BlockList).Block()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/remote/blocklist.go:37 +0x11a
  github.com/asynkron/protoactor-go/cluster.NewMemberList.func1()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/cluster/member_list.go:50 +0x575
  github.com/asynkron/protoactor-go/eventstream.(*EventStream).Publish()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/eventstream/eventstream.go:108 +0x2c6
  github.com/asynkron/protoactor-go/cluster.(*GossipActor).ReceiveState()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/cluster/gossip_actor.go:174 +0xc5
  github.com/asynkron/protoactor-go/cluster.(*GossipActor).onGossipRequest()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/cluster/gossip_actor.go:99 +0x1c4
  github.com/asynkron/protoactor-go/cluster.(*GossipActor).Receive()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/cluster/gossip_actor.go:61 +0x15b
  github.com/asynkron/protoactor-go/actor.(*actorContext).defaultReceive()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/actor/actor_context.go:372 +0x11d
  github.com/asynkron/protoactor-go/actor.(*actorContext).processMessage()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/actor/actor_context.go:527 +0x366
  github.com/asynkron/protoactor-go/actor.(*actorContext).InvokeUserMessage()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/actor/actor_context.go:505 +0x56d
  github.com/asynkron/protoactor-go/actor.(*defaultMailbox).run()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/actor/mailbox.go:169 +0x2f8
  github.com/asynkron/protoactor-go/actor.(*defaultMailbox).processMessages()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/actor/mailbox.go:105 +0x2e
  github.com/asynkron/protoactor-go/actor.(*defaultMailbox).processMessages-fm()
      <autogenerated>:1 +0x2e

Previous read at 0x00c0002750c8 by goroutine 23:
  github.com/asynkron/protoactor-go/remote.(*BlockList).BlockedMembers()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/remote/blocklist.go:28 +0xd9
  github.com/asynkron/protoactor-go/cluster.(*Cluster).GetBlockedMembers()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/cluster/cluster.go:81 +0x91
  github.com/asynkron/protoactor-go/cluster.(*MemberList).getTopologyChanges()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/cluster/member_list.go:198 +0x1d
  github.com/asynkron/protoactor-go/cluster.(*MemberList).UpdateClusterTopology()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/cluster/member_list.go:137 +0xe9
  github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged.(*AutoManagedProvider).monitorStatuses()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/cluster/clusterproviders/automanaged/automanaged.go:261 +0x987
  github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged.(*AutoManagedProvider).monitorMemberStatusChanges.func1()
      /root/go/pkg/mod/github.com/asynkron/protoactor-go@v0.0.0-20240822202345-3c0e61ca19c9/cluster/clusterproviders/automanaged/automanaged.go:195 +0x30
==================`

func TestRacesKnown(t *testing.T) {
	if ours, theirs, known := races(readerRace); len(ours) != 0 || len(theirs) != 0 || len(known) != 1 {
		t.Fatalf("reader race: ours %d, theirs %d, known %d; want it known", len(ours), len(theirs), len(known))
	}
	// A channel closed by a function of ours is ours.
	mine := strings.Replace(readerRace, "github.com/asynkron/protoactor-go/remote.(*endpointReader).Receive.func1()", "github.com/dbactor/dbactor/node.(*boundary).serverStream.func1()", 1)
	if ours, _, known := races(mine); len(ours) != 1 || len(known) != 0 {
		t.Fatalf("reader race with our close: ours %d, known %d; want it ours", len(ours), len(known))
	}
	ours, theirs, known := races(shutdownRace)
	if len(ours) != 0 || len(theirs) != 0 || len(known) != 1 {
		t.Fatalf("ours %d, theirs %d, known %d; want the race known", len(ours), len(theirs), len(known))
	}
	// The same race with our function as the write is ours.
	mine = strings.Replace(shutdownRace, "github.com/asynkron/protoactor-go/remote.(*endpointManager).stop()", "github.com/dbactor/dbactor/node.(*Node).stop()", 1)
	if ours, _, known := races(mine); len(ours) != 1 || len(known) != 0 {
		t.Fatalf("ours %d, known %d; want it ours", len(ours), len(known))
	}
	if ours, theirs, known := races(blockListRace); len(ours) != 0 || len(theirs) != 0 || len(known) != 1 {
		t.Fatalf("block list race: ours %d, theirs %d, known %d; want it known", len(ours), len(theirs), len(known))
	}
	// A dependency race of another kind needs AllowDependencyRaces.
	other := strings.ReplaceAll(strings.ReplaceAll(shutdownRace, "github.com/dbactor/dbactor/", "example.com/x/"), "removeEndpoint", "other")
	if _, theirs, known := races(other); len(theirs) != 1 || len(known) != 0 {
		t.Fatalf("theirs %d, known %d; want it theirs", len(theirs), len(known))
	}
}
