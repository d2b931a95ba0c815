package peer

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/extensions"
)

// Exporter is a node's list of the local actors peers may address.
type Exporter interface {
	// Export lets the peer at address to ("": every peer) send user
	// messages to pid and Watch it; with subtree, also its descendants
	// (pid's id followed by "/").
	Export(pid *actor.PID, subtree bool, to string)
}

var extensionID = extensions.NextExtensionID()

type extension struct{ Exporter }

func (extension) ExtensionID() extensions.ExtensionID { return extensionID }

// Register makes e the exporter of sys (the node does this when it starts).
func Register(sys *actor.ActorSystem, e Exporter) {
	sys.Extensions.Register(extension{e})
}

// Export exports pid on sys's node, if sys runs one, to the peer at
// address to: the node of the registry it was handed to. A remote PID (or
// a system without a node) is left alone.
func Export(sys *actor.ActorSystem, pid *actor.PID, subtree bool, to string) {
	if sys == nil || pid == nil {
		return
	}
	if addr := pid.GetAddress(); addr != "" && addr != sys.Address() {
		return
	}
	if to == "" || to == sys.Address() {
		return // a registry of this system: no peer needs to reach pid
	}
	if x, ok := sys.Extensions.Get(extensionID).(extension); ok && x.Exporter != nil {
		x.Export(pid, subtree, to)
	}
}
