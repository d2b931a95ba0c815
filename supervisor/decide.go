package supervisor

import (
	"errors"
	"net/url"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
)

// Outcome is one database's answer to a fan-out request.
type Outcome struct {
	Database string
	// Changed is ConnectResult.opened or DisconnectResult.closed.
	Changed bool
	// Err is nil on success.
	Err *messages.Error
}

// PlanRollback returns the indices of the outcomes to disconnect after a
// registry-wide connect: every database whose connect succeeded, when any
// failed or the deadline passed before all answered (expired). Failed
// databases are not disconnected: they hold no count. Later databases come
// first, undoing in reverse order.
func PlanRollback(outcomes []Outcome, expired bool) []int {
	failed := expired
	for _, o := range outcomes {
		if o.Err != nil {
			failed = true
		}
	}
	if !failed {
		return nil
	}
	var plan []int
	for i := len(outcomes) - 1; i >= 0; i-- {
		if outcomes[i].Err == nil {
			plan = append(plan, i)
		}
	}
	return plan
}

// ConnectReply combines a registry-wide connect's outcomes and its rollback's
// outcomes into the reply: one error per failed database in member order
// (main first, then extras), each rolled-back success counted as a timeout
// when the deadline expired, then one error per failed rollback.
func ConnectReply(outcomes []Outcome, expired bool, rollback []Outcome) *messages.ConnectResult {
	res := &messages.ConnectResult{}
	opened := false
	for _, o := range outcomes {
		switch {
		case o.Err != nil:
			res.Errors = append(res.Errors, o.Err)
		case expired:
			res.Errors = append(res.Errors, &messages.Error{
				Code: messages.Code_CODE_TIMEOUT, Database: o.Database,
				Message: "connected after the deadline; rolled back",
			})
		default:
			opened = opened || o.Changed
		}
	}
	for _, o := range rollback {
		if o.Err != nil {
			res.Errors = append(res.Errors, &messages.Error{
				Code: messages.Code_CODE_ROLLBACK_FAILED, Database: o.Database,
				Message: "rollback: " + o.Err.GetMessage(), Sqlstate: o.Err.GetSqlstate(),
			})
		}
	}
	res.Opened = opened && len(res.Errors) == 0
	return res
}

// DisconnectReply combines a registry-wide disconnect's outcomes: every
// error in member order; closed when every database closed by this request.
func DisconnectReply(outcomes []Outcome) *messages.DisconnectResult {
	res := &messages.DisconnectResult{Closed: len(outcomes) > 0}
	for _, o := range outcomes {
		if o.Err != nil {
			res.Errors = append(res.Errors, o.Err)
		}
		res.Closed = res.Closed && o.Changed
	}
	return res
}

// ErrConfigPanic marks a panic caused by configuration, which a restart
// cannot cure: Decide stops such an actor instead of restart-looping it.
var ErrConfigPanic = errors.New("dbactor: configuration error")

// Decide is the supervisor's decider for a database actor that panicked:
// restart it (its State survives), unless the panic is a configuration error.
func Decide(reason any) actor.Directive {
	if err, ok := reason.(error); ok && errors.Is(err, ErrConfigPanic) {
		return actor.StopDirective
	}
	return actor.RestartDirective
}

// ChildName is the actor name of a database's actor. Names of different
// databases never collide, whatever the extra names contain: the main
// database is "db-main", an extra is "db-x-" plus its path-escaped name.
func ChildName(database string) string {
	if database == "" {
		return "db-main"
	}
	return "db-x-" + url.PathEscape(database)
}

// Respawn reports whether a database actor that terminated should be
// spawned again on its State: only an owned one, while the supervisor is
// neither stopping nor closing, that was not stopped for a configuration
// error (a respawn cannot cure that), and that has not already been
// respawned max times recently (a bug that fires on every message).
func Respawn(owned, stopping, configStop bool, recent, max int) bool {
	return owned && !stopping && !configStop && recent < max
}

// RecentRespawns keeps the respawn times within window before now.
func RecentRespawns(times []time.Time, now time.Time, window time.Duration) []time.Time {
	var out []time.Time
	for _, t := range times {
		if now.Sub(t) < window {
			out = append(out, t)
		}
	}
	return out
}
