package supervisor

import (
	"net/url"

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

// ChildName is the actor name of a database's actor. Names of different
// databases never collide, whatever the extra names contain: the main
// database is "db-main", an extra is "db-x-" plus its path-escaped name.
func ChildName(database string) string {
	if database == "" {
		return "db-main"
	}
	return "db-x-" + url.PathEscape(database)
}

// SharedReleased reports whether a registry-wide disconnect gave back its
// hold on every shared database: each one either acted on it (no error, or
// an error after the count went down) or is closed (nothing held any more).
// A timeout, a cancellation or a crash means nothing was given back.
func SharedReleased(members []Member, outcomes []Outcome) bool {
	for i, m := range members {
		if m.Owned || i >= len(outcomes) || outcomes[i].Err == nil {
			continue
		}
		switch outcomes[i].Err.GetCode() {
		case messages.Code_CODE_TIMEOUT, messages.Code_CODE_CANCELED, messages.Code_CODE_INTERNAL:
			return false
		}
	}
	return true
}
