package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/internal/plumbing"
	"github.com/dbactor/dbactor/internal/sqlite"
	"github.com/dbactor/dbactor/messages"
)

// What a registry reaches in its States and a user does not.
func init() {
	plumbing.SQLite = func(s any) *sqlite.DB { return s.(*State).sqliteDB() }
	plumbing.Secrets = func(s any) []string { return s.(*State).secretsOf() }
	plumbing.AlsoScrub = func(s any, secrets ...string) { s.(*State).alsoScrub(secrets...) }
	plumbing.Publish = func(s any, sys *actor.ActorSystem, ev messages.Event) { s.(*State).publish(sys, ev) }
}
