package messages

import "google.golang.org/protobuf/proto"

// Event is a notification dbactor publishes on its actor system's
// EventStream and passes to a registry's event hook: the lifecycle
// (DatabaseConnecting, DatabaseConnected, DatabaseConnectFailed,
// DatabaseDisconnected, RollingBack, RolledBack, ModelRegistered), health
// (DatabaseDown, DatabaseUp, DatabaseProbeFailed), DatabaseNotConnected,
// CallerReleased and ActorCrashed; a node's trust boundary publishes
// AccessDenied and MessageDropped. Every event is a protobuf
// message, so it can be forwarded to other nodes as it is.
type Event interface {
	proto.Message
	isEvent()
}

func (*DatabaseDown) isEvent()          {}
func (*DatabaseUp) isEvent()            {}
func (*DatabaseProbeFailed) isEvent()   {}
func (*ActorCrashed) isEvent()          {}
func (*DatabaseConnecting) isEvent()    {}
func (*DatabaseConnected) isEvent()     {}
func (*DatabaseConnectFailed) isEvent() {}
func (*DatabaseDisconnected) isEvent()  {}
func (*RollingBack) isEvent()           {}
func (*RolledBack) isEvent()            {}
func (*DatabaseNotConnected) isEvent()  {}
func (*ModelRegistered) isEvent()       {}
func (*CallerReleased) isEvent()        {}
func (*AccessDenied) isEvent()          {}
func (*MessageDropped) isEvent()        {}
