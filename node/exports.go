package node

import (
	"strings"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// exportKind is what peers may do with a local actor.
type exportKind uint8

const (
	exportNone exportKind = iota
	// exportActor: user messages and Watch/Unwatch.
	exportActor
	// exportRegistry: the same, and requests are authorized by the policy.
	exportRegistry
)

// export is one exported actor (and, with subtree, its descendants).
type export struct {
	kind    exportKind
	subtree bool
	// from are the peer addresses that may address it; nil: every peer.
	from map[string]bool
}

// exports are the local actors peers may address.
type exports struct {
	mu   sync.RWMutex
	ids  map[string]*export
	adds int
}

// add exports the actor id to the peer at address ("": every peer).
func (x *exports) add(sys *actor.ActorSystem, id string, kind exportKind, subtree bool, address string) {
	// A Client exports its actors before every call: most find them there.
	x.mu.RLock()
	e := x.ids[id]
	known := e != nil && e.kind >= kind && (e.subtree || !subtree) && (e.from == nil || address != "" && e.from[address])
	x.mu.RUnlock()
	if known {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ids == nil {
		x.ids = map[string]*export{}
	}
	if x.adds++; x.adds%sweepEvery == 0 {
		// Forget exports of actors that are gone (clients closed long ago).
		for id := range x.ids {
			if _, ok := sys.ProcessRegistry.GetLocal(id); !ok {
				delete(x.ids, id)
			}
		}
	}
	e = x.ids[id]
	if e == nil {
		e = &export{kind: kind, from: map[string]bool{}}
		x.ids[id] = e
	}
	e.kind = max(e.kind, kind)
	e.subtree = e.subtree || subtree
	switch {
	case address == "":
		e.from = nil
	case e.from != nil:
		e.from[address] = true
	}
}

// lookup is what the peer at address may do with the local actor id.
func (x *exports) lookup(id, address string) exportKind {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if e, ok := x.ids[id]; ok {
		if e.from != nil && !e.from[address] {
			return exportNone
		}
		return e.kind
	}
	// A descendant of an actor exported with its subtree, at any depth.
	for i := strings.LastIndexByte(id, '/'); i > 0; i = strings.LastIndexByte(id[:i], '/') {
		if e, ok := x.ids[id[:i]]; ok && e.subtree && (e.from == nil || e.from[address]) {
			return exportActor
		}
	}
	return exportNone
}

// exporter is what internal/peer's Export reaches on a node's system.
type exporter struct {
	sys *actor.ActorSystem
	x   *exports
}

// Export implements peer.Exporter.
func (e exporter) Export(pid *actor.PID, subtree bool, to string) {
	e.x.add(e.sys, pid.GetId(), exportActor, subtree, to)
}

// conversations remember which local actors sent messages to which peer
// addresses: a peer may answer an actor that wrote to it (a request's
// reply address, a caller that watches it) — as a stateful firewall lets
// replies in.
type conversations struct {
	mu   sync.RWMutex
	with map[string]map[string]bool // local id → peer addresses
	adds int
}

func (c *conversations) add(sys *actor.ActorSystem, id, address string) {
	c.mu.RLock()
	known := c.with[id][address]
	c.mu.RUnlock()
	if known {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.with == nil {
		c.with = map[string]map[string]bool{}
	}
	if c.adds++; c.adds%sweepEvery == 0 {
		// Reply addresses live as long as their request: forget the gone.
		for id := range c.with {
			if _, ok := sys.ProcessRegistry.GetLocal(id); !ok {
				delete(c.with, id)
			}
		}
	}
	if c.with[id] == nil {
		c.with[id] = map[string]bool{}
	}
	c.with[id][address] = true
}

func (c *conversations) has(id, address string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.with[id][address]
}

// MaxWatchesPerPeer is the most watches (Watch of a local actor by one of
// its actors) an untrusted peer may have at once; more are dropped.
const MaxWatchesPerPeer = 4096

// watch is a Watch a peer sent: a local actor, watched by the peer's.
type watch struct{ target, watcher string }

// watches remember the Watches each peer address made, bounded, so they
// can be undone when the peer goes: Proto.Actor keeps a remote watcher
// in the watched actor for as long as that actor lives, long after the
// watcher's node is gone.
type watches struct {
	mu      sync.Mutex
	by      map[string]map[watch]bool // peer address → its watches
	streams map[string]int            // peer address → its bound streams
}

// add records w from address; false when the peer has too many.
func (ws *watches) add(address string, w watch, limit int) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.by == nil {
		ws.by = map[string]map[watch]bool{}
	}
	set := ws.by[address]
	if set[w] {
		return true
	}
	if limit > 0 && len(set) >= limit {
		return false
	}
	if set == nil {
		set = map[watch]bool{}
		ws.by[address] = set
	}
	set[w] = true
	return true
}

func (ws *watches) remove(address string, w watch) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	delete(ws.by[address], w)
}

// open counts a stream bound to address.
func (ws *watches) open(address string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.streams == nil {
		ws.streams = map[string]int{}
	}
	ws.streams[address]++
}

// close uncounts a stream bound to address; when it was the peer's last,
// it returns (and forgets) the watches the peer made.
func (ws *watches) close(address string) []watch {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.streams[address]--; ws.streams[address] > 0 {
		return nil
	}
	delete(ws.streams, address)
	var out []watch
	for w := range ws.by[address] {
		out = append(out, w)
	}
	delete(ws.by, address)
	return out
}
