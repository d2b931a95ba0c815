package registry

import (
	"context"
	"net/http"

	"github.com/dbactor/dbactor/internal/healthhttp"
	"github.com/dbactor/dbactor/internal/ops"
)

// HealthHandler serves r's liveness, readiness and status to operators, in
// the shape Kubernetes probes expect (GET or HEAD; 200 and a short text
// when the check passes, 503 listing the checks when it fails; ?verbose
// lists them either way, like kube-apiserver):
//
//   - /livez: the registry actor and its supervisor answer (within 1 s).
//     Databases are not asked, so an outage never gets the process
//     restarted. 503 after Close.
//   - /readyz: /livez's check, and every database is connected and
//     healthy (Status.Health == client.Healthy). 503 otherwise, one line
//     per database naming it ("main" for the main database) and why: not
//     connected, degraded, status timed out, closed.
//   - /status: JSON of every database — name, dialect, URL without user,
//     password or query, connected, ref count, health, since, the class of
//     its last error ("connect_failed", "timeout", …; never its text),
//     failed probes, and pool stats (pgxpool on PostgreSQL, sql.DBStats on
//     SQLite) — plus "live" and "ready". Always 200.
//   - / and /status.html: the same as a small HTML page that reloads itself
//     every 2 s.
//
// Each request asks every database actor for its status concurrently,
// each bounded by 1 s (or the request's own deadline): a database that
// does not answer in time is reported as not ready, never waited for.
// Nothing secret is written: no password, user, host (in the text bodies)
// or driver message. Mount it under a prefix with http.StripPrefix, or let
// Serve mount it (WithHealthHandler).
func HealthHandler(r *Registry) http.Handler {
	dbs := make([]healthhttp.Database, 0, len(r.order))
	for _, d := range r.order {
		dbs = append(dbs, d)
	}
	return healthhttp.New(healthhttp.Source{Live: r.live, Databases: dbs})
}

// live asks the registry actor for its list of databases: the supervisor
// answers it from the databases' states, without asking their actors.
func (r *Registry) live(ctx context.Context) error {
	_, err := ops.Do(ctx, r.caller, r.pid, ops.List())
	return err
}

// WithHealthHandler makes Serve and ListenAndServe answer HealthHandler's
// routes under prefix, and pass every other request to srv.Handler
// (http.DefaultServeMux when nil, as net/http does). With prefix "" or "/"
// only the endpoints themselves are taken (/livez, /readyz, /status,
// /status.html; "/" stays the server's); with "/ops" everything under
// /ops/ is (/ops/livez, …, the page at /ops/), and /ops redirects to
// /ops/. Serve sets srv.Handler to the combined handler before it serves.
// With WithConnectRetry as well, the server serves at once: while Connect
// waits for the databases, /livez answers 200, /readyz 503, and every other
// route 503 with Retry-After, so that an orchestrator's probes see a
// process that is alive and not ready rather than none at all.
func WithHealthHandler(prefix string) ServeOption {
	return func(o *serveOptions) {
		o.health = true
		o.healthPrefix = prefix
	}
}
