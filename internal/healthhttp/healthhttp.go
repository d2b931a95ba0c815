// Package healthhttp is the operators' HTTP view of a registry: liveness
// and readiness in the shape Kubernetes probes expect, a JSON status of
// every database and a small self-refreshing HTML page of the same data.
// registry.HealthHandler builds it on a registry's own calls; this package
// knows nothing of the registry beyond the Source it is given.
//
// Nothing secret leaves it: database URLs lose their user information and
// query, errors are reduced to a short class derived with errors.Is, and no
// driver text is ever written.
package healthhttp

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dbactor/dbactor/client"
)

// ProbeTimeout bounds each check of one request (the registry actor's
// answer, each database's status), unless the request's own context ends
// first. A check that runs out is reported as failed, never waited for.
const ProbeTimeout = time.Second

// Database is what the handler reads of one database; *registry.Database
// implements it.
type Database interface {
	// Name is "" for the main database.
	Name() string
	Dialect() client.Dialect
	// URL is the configured URL with its password redacted.
	URL() string
	// Status asks the database actor; it must honour ctx's deadline.
	Status(ctx context.Context) (client.Status, error)
	// Pool is the pgx pool (PostgreSQL) while connected, else nil.
	Pool() *pgxpool.Pool
	// DB is the *sql.DB while connected, else nil.
	DB() *sql.DB
}

// Source is what a handler checks.
type Source struct {
	// Live asks the registry actor (and through it the supervisor) for an
	// answer that involves no database actor; it must honour ctx's
	// deadline and fail once the registry is closed.
	Live func(ctx context.Context) error
	// Databases are the registry's databases, the main one first.
	Databases []Database
	// ProbeTimeout overrides ProbeTimeout when positive (tests).
	ProbeTimeout time.Duration
}

// The paths a handler serves, relative to where it is mounted.
var endpoints = []string{"/livez", "/readyz", "/status", "/status.html"}

// New returns the handler of src: GET (and HEAD) /livez, /readyz,
// /status, /status.html and /; anything else is 404, other methods 405.
func New(src Source) http.Handler {
	if src.ProbeTimeout <= 0 {
		src.ProbeTimeout = ProbeTimeout
	}
	h := &handler{src: src}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", h.livez)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.HandleFunc("GET /status", h.status)
	mux.HandleFunc("GET /status.html", h.page)
	mux.HandleFunc("GET /{$}", h.page)
	return mux
}

// Mount returns a handler that sends the health paths to health and every
// other request to next (http.DefaultServeMux when nil, looked up per
// request as net/http does). prefix "" or "/" takes only the endpoints
// themselves (/livez, /readyz, /status, /status.html), so next keeps "/";
// any other prefix ("/ops", "/ops/") takes everything under it, with the
// prefix stripped, and redirects the bare prefix to prefix + "/".
func Mount(prefix string, health, next http.Handler) http.Handler {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix = "/" + prefix
	}
	stripped := http.StripPrefix(prefix, health)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case prefix == "":
			for _, e := range endpoints {
				if p == e {
					health.ServeHTTP(w, r)
					return
				}
			}
		case p == prefix:
			u := *r.URL
			u.Path, u.RawPath = prefix+"/", ""
			http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
			return
		case strings.HasPrefix(p, prefix+"/"):
			stripped.ServeHTTP(w, r)
			return
		}
		if next == nil {
			http.DefaultServeMux.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type handler struct {
	src Source
}

// check is the outcome of one check: ok, or why not (a short fixed
// phrase, never an error's text).
type check struct {
	ok     bool
	reason string
}

// dbResult is one database's check and what was learnt of it.
type dbResult struct {
	db     Database
	check  check
	status client.Status
	// statusErr is the class of the Status call's failure, "" when it
	// answered.
	statusErr string
}

// report is every check of one request.
type report struct {
	at        time.Time
	registry  check
	databases []dbResult
}

func (r *report) ready() bool {
	if !r.registry.ok {
		return false
	}
	for _, d := range r.databases {
		if !d.check.ok {
			return false
		}
	}
	return true
}

// run runs the registry check and, with databases, every database's check,
// concurrently, each bounded by the probe timeout. It returns when every
// check has (none outlives the request).
func (h *handler) run(ctx context.Context, databases bool) *report {
	ctx, cancel := context.WithTimeout(ctx, h.src.ProbeTimeout)
	defer cancel()
	rep := &report{at: time.Now()}
	var wg sync.WaitGroup
	wg.Go(func() { rep.registry = h.live(ctx) })
	if databases {
		rep.databases = make([]dbResult, len(h.src.Databases))
		for i, d := range h.src.Databases {
			wg.Go(func() { rep.databases[i] = checkDatabase(ctx, d) })
		}
	}
	wg.Wait()
	return rep
}

func (h *handler) live(ctx context.Context) check {
	if h.src.Live == nil {
		return check{reason: "no registry"}
	}
	if err := h.src.Live(ctx); err != nil {
		return check{reason: callFailure(ctx, err)}
	}
	return check{ok: true}
}

func checkDatabase(ctx context.Context, d Database) dbResult {
	res := dbResult{db: d}
	st, err := d.Status(ctx)
	if err != nil {
		res.statusErr = errorClass(err)
		if ctx.Err() != nil {
			res.statusErr = "timeout" // the probe's bound, whatever the call made of it
		}
		res.check = check{reason: "status " + callFailure(ctx, err)}
		return res
	}
	res.status = st
	switch {
	case !st.Connected:
		res.check.reason = "not connected"
	case st.Health == client.Degraded:
		res.check.reason = "degraded"
	case st.Health != client.Healthy:
		res.check.reason = "health unknown"
	default:
		res.check.ok = true
	}
	return res
}

// callFailure names why a call to an actor failed, in a few words.
func callFailure(ctx context.Context, err error) string {
	switch c := errorClass(err); {
	case c == "timeout" || ctx.Err() != nil:
		return "timed out"
	case c == "closed":
		return "closed"
	default:
		return "failed"
	}
}

// label is how a database is named in the text bodies: "main" for the
// main database, an extra by its name — quoted when it could be mistaken
// for the main one or holds anything but printable, non-space characters.
func label(name string) string {
	if name == "" {
		return "main"
	}
	if q := strconv.Quote(name); name == "main" || strings.ContainsRune(name, ' ') || q != `"`+name+`"` {
		return q
	}
	return name
}
