package migrate

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// State is a migration's state in its set.
type State string

// The states.
const (
	Applied State = "applied"
	Pending State = "pending"
)

// Migration is one migration of a set.
type Migration struct {
	// Version is the number its file name starts with.
	Version int64 `json:"version"`
	// Source is its file, relative to the set's directory ("" for a Go
	// migration registered without a file).
	Source string `json:"source,omitempty"`
	// State is applied or pending (after the call).
	State State `json:"state"`
	// AppliedAt is when it was applied, as the version table says.
	AppliedAt time.Time `json:"applied_at,omitzero"`
}

// Result is what happened to one set: a database's own migrations (Schema
// "") or one tenant schema's.
type Result struct {
	// Database is the registry's name for the database, "" for the main one.
	Database string `json:"database"`
	// Schema is the tenant schema, "" for the database's own set.
	Schema string `json:"schema,omitempty"`
	// Dir is the set's directory relative to the root.
	Dir string `json:"dir"`
	// Before and Version are the set's version before and after the call
	// (the highest applied; 0 for none).
	Before  int64 `json:"before"`
	Version int64 `json:"version"`
	// Ran lists the migrations this call applied (Up) or rolled back
	// (Down), in the order they ran, each committed; with DryRun, what
	// would run.
	Ran []Migration `json:"ran,omitempty"`
	// Migrations is every migration of the set with its state after the
	// call.
	Migrations []Migration `json:"migrations"`
	// Skipped is true when the set was not attempted (StopOnError after an
	// earlier failure).
	Skipped bool `json:"skipped,omitempty"`
	// Err is the set's failure, a *MigrationError, or nil.
	Err error `json:"-"`
	// Error is Err's text, for JSON.
	Error string `json:"error,omitempty"`
}

// Pending lists the set's migrations that are not applied.
func (r Result) Pending() []Migration {
	var out []Migration
	for _, m := range r.Migrations {
		if m.State == Pending {
			out = append(out, m)
		}
	}
	return out
}

// Name is "database" or "database/tenant", with MainDir for the main
// database.
func (r Result) Name() string {
	if r.Schema == "" {
		return dirName(r.Database)
	}
	return dirName(r.Database) + "/" + r.Schema
}

// Report is what one call did, set by set: each database's own set, then
// its tenants in name order; the main database first, then the extras by
// name.
type Report struct {
	// Op is the operation: up, down or status.
	Op Op `json:"op"`
	// DryRun is true when nothing ran (DryRun): Result.Ran is what would.
	DryRun bool `json:"dry_run,omitempty"`
	// Results holds one Result per set that took part.
	Results []Result `json:"results"`
}

// Err joins the failures of every set (nil when none failed).
func (r *Report) Err() error {
	var errs []error
	for _, res := range r.Results {
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
	}
	return errors.Join(errs...)
}

// Pending counts the migrations still pending over every set.
func (r *Report) Pending() int {
	n := 0
	for _, res := range r.Results {
		n += len(res.Pending())
	}
	return n
}

// WriteTo writes the report for people: one line per set, then one per
// migration that ran (or would run), then its pending migrations; Status
// lists every migration.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%s: ", res.Name())
		switch {
		case res.Err != nil && len(res.Migrations) == 0 && len(res.Ran) == 0:
			// Failed before reading its state (connecting, locking, listing).
			fmt.Fprintf(&b, "FAILED: %v\n", res.Err)
			continue
		case res.Skipped:
			fmt.Fprintf(&b, "skipped (an earlier set failed), version %d", res.Version)
		case r.Op == OpStatus:
			fmt.Fprintf(&b, "version %d, %d applied, %d pending", res.Version, len(res.Migrations)-len(res.Pending()), len(res.Pending()))
		case r.DryRun:
			fmt.Fprintf(&b, "version %d, would %s %d", res.Version, verb(r.Op), len(res.Ran))
		default:
			fmt.Fprintf(&b, "version %d -> %d, %s %d, %d pending", res.Before, res.Version, pastVerb(r.Op), len(res.Ran), len(res.Pending()))
		}
		if res.Err != nil {
			fmt.Fprintf(&b, ", FAILED: %v", res.Err)
		}
		b.WriteByte('\n')
		for _, m := range res.Ran {
			what := pastVerb(r.Op)
			if r.DryRun {
				what = "would " + verb(r.Op)
			}
			fmt.Fprintf(&b, "  %-10s %s\n", what, label(m))
		}
		if r.Op == OpStatus {
			for _, m := range res.Migrations {
				when := ""
				if !m.AppliedAt.IsZero() {
					when = "  " + m.AppliedAt.UTC().Format(time.DateTime)
				}
				fmt.Fprintf(&b, "  %-10s %s%s\n", m.State, label(m), when)
			}
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func label(m Migration) string {
	if m.Source != "" {
		return m.Source
	}
	return fmt.Sprintf("%05d (Go)", m.Version)
}

func verb(op Op) string {
	if op == OpDown {
		return "roll back"
	}
	return "apply"
}

func pastVerb(op Op) string {
	if op == OpDown {
		return "rolled back"
	}
	return "applied"
}
