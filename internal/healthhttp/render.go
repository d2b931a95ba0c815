package healthhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/dbactor/dbactor/client"
)

// noStore marks a response as a moment's truth: never cached, never sniffed.
func noStore(w http.ResponseWriter, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

// writeChecks writes a probe's answer the way kube-apiserver does: 200 and
// "ok" when every check passed, else 503 and one line per check; with
// ?verbose, one line per check either way.
func writeChecks(w http.ResponseWriter, r *http.Request, name string, passed bool, lines []string) {
	noStore(w, "text/plain; charset=utf-8")
	_, verbose := r.URL.Query()["verbose"]
	var b bytes.Buffer
	if passed && !verbose {
		b.WriteString("ok\n")
	} else {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		if passed {
			fmt.Fprintf(&b, "%s check passed\n", name)
		} else {
			fmt.Fprintf(&b, "%s check failed\n", name)
		}
	}
	if !passed {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(b.Bytes())
}

func line(name string, c check) string {
	if c.ok {
		return "[+]" + name + " ok"
	}
	return "[-]" + name + " failed: " + c.reason
}

// livez: the registry actor and its supervisor answer. Databases are not
// asked: an outage must not get the process restarted.
func (h *handler) livez(w http.ResponseWriter, r *http.Request) {
	rep := h.run(r.Context(), false)
	writeChecks(w, r, "livez", rep.registry.ok, []string{line("registry", rep.registry)})
}

// readyz: the registry answers and every database is connected and
// healthy.
func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	rep := h.run(r.Context(), true)
	lines := []string{line("registry", rep.registry)}
	for _, d := range rep.databases {
		lines = append(lines, line("database "+label(d.db.Name()), d.check))
	}
	writeChecks(w, r, "readyz", rep.ready(), lines)
}

// statusJSON is the body of /status.
type statusJSON struct {
	// Live and Ready are what /livez and /readyz answer now.
	Live  bool `json:"live"`
	Ready bool `json:"ready"`
	// Registry is "ok" or why the registry actor did not answer.
	Registry  string         `json:"registry"`
	CheckedAt time.Time      `json:"checked_at"`
	Databases []databaseJSON `json:"databases"`
}

type databaseJSON struct {
	// Name is the registry's name for it: "" for the main database.
	Name string `json:"name"`
	// Label is how /readyz names it: "main" for the main database.
	Label   string `json:"label"`
	Dialect string `json:"dialect"`
	// URL is the scheme, host and path of its URL: no user, password or
	// query; "" when the DSN is not a URL.
	URL   string `json:"url"`
	Ready bool   `json:"ready"`
	// Reason is why it is not ready ("" when ready).
	Reason       string     `json:"reason"`
	Connected    bool       `json:"connected"`
	RefCount     int        `json:"ref_count"`
	Health       string     `json:"health"`
	Since        *time.Time `json:"since"`
	LastError    string     `json:"last_error"`
	FailedProbes int        `json:"failed_probes"`
	// StatusError is the class of the failure to get its status ("" when
	// the database actor answered; the fields above are then empty).
	StatusError string `json:"status_error"`
	// PGXPool: PostgreSQL pool stats, while connected.
	PGXPool *pgxPoolJSON `json:"pgxpool,omitempty"`
	// SQLDB: SQLite's *sql.DB stats, while connected.
	SQLDB *sqlDBJSON `json:"sql_db,omitempty"`
}

type pgxPoolJSON struct {
	Total             int32 `json:"total"`
	Idle              int32 `json:"idle"`
	Acquired          int32 `json:"acquired"`
	Max               int32 `json:"max"`
	EmptyAcquireCount int64 `json:"empty_acquire_count"`
}

type sqlDBJSON struct {
	Open      int   `json:"open"`
	Idle      int   `json:"idle"`
	InUse     int   `json:"in_use"`
	MaxOpen   int   `json:"max_open"`
	WaitCount int64 `json:"wait_count"`
}

func (rep *report) json() statusJSON {
	out := statusJSON{
		Live:      rep.registry.ok,
		Ready:     rep.ready(),
		Registry:  "ok",
		CheckedAt: rep.at.UTC(),
		Databases: make([]databaseJSON, 0, len(rep.databases)),
	}
	if !rep.registry.ok {
		out.Registry = rep.registry.reason
	}
	for _, d := range rep.databases {
		st := d.status
		j := databaseJSON{
			Name:         d.db.Name(),
			Label:        label(d.db.Name()),
			Dialect:      string(d.db.Dialect()),
			URL:          publicURL(d.db.URL()),
			Ready:        d.check.ok,
			Reason:       d.check.reason,
			Connected:    st.Connected,
			RefCount:     st.RefCount,
			Health:       st.Health.String(),
			LastError:    errorClass(st.LastError),
			FailedProbes: st.FailedProbes,
			StatusError:  d.statusErr,
		}
		if d.statusErr != "" {
			j.Health = ""
		}
		if !st.Since.IsZero() {
			since := st.Since.UTC()
			j.Since = &since
		}
		if d.db.Dialect() == client.Postgres {
			if p := d.db.Pool(); p != nil {
				s := p.Stat()
				j.PGXPool = &pgxPoolJSON{Total: s.TotalConns(), Idle: s.IdleConns(), Acquired: s.AcquiredConns(),
					Max: s.MaxConns(), EmptyAcquireCount: s.EmptyAcquireCount()}
			}
		} else if db := d.db.DB(); db != nil {
			s := db.Stats()
			j.SQLDB = &sqlDBJSON{Open: s.OpenConnections, Idle: s.Idle, InUse: s.InUse,
				MaxOpen: s.MaxOpenConnections, WaitCount: s.WaitCount}
		}
		out.Databases = append(out.Databases, j)
	}
	return out
}

// status: every database's state as JSON, 200 whatever it says (the
// verdict is in "ready"; probes use /readyz).
func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	rep := h.run(r.Context(), true)
	body, err := json.MarshalIndent(rep.json(), "", "  ")
	if err != nil {
		http.Error(w, "encoding the status failed", http.StatusInternalServerError)
		return
	}
	noStore(w, "application/json")
	_, _ = w.Write(append(body, '\n'))
}

// page: the same data as /status for people, reloading itself every 2 s
// (a meta refresh: no script, no external asset).
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	rep := h.run(r.Context(), true)
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, rep.json()); err != nil {
		http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
		return
	}
	noStore(w, "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(b.Bytes())
}

var pageTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"when": func(t *time.Time) string {
		if t == nil {
			return "–"
		}
		return t.Format(time.RFC3339)
	},
	"orDash": func(s string) string {
		if s == "" {
			return "–"
		}
		return s
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<title>dbactor status: {{if .Ready}}ready{{else}}not ready{{end}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
td.url { word-break: break-all; max-width: 22em; }
td.pool { font-size: 12px; white-space: nowrap; }
th { background: #f4f4f4; }
.ok { color: #11691f; font-weight: bold; }
.bad { color: #b00020; font-weight: bold; }
.small { color: #666; font-size: .9em; }
</style>
</head>
<body>
<h1>dbactor status:
{{if .Ready}}<span id="verdict" class="ok">ready</span>{{else}}<span id="verdict" class="bad">not ready</span>{{end}}</h1>
<p>Registry: <span id="registry" class="{{if .Live}}ok{{else}}bad{{end}}">{{if .Live}}live{{else}}not live ({{.Registry}}){{end}}</span>
<span class="small">· checked {{.CheckedAt.Format "2006-01-02T15:04:05Z07:00"}} · refreshes every 2 s · <a href="status">JSON</a></span></p>
<table>
<thead><tr><th>Database</th><th>Dialect</th><th>URL</th><th>Ready</th><th>Connected</th><th>Ref count</th><th>Health</th><th>Since</th><th>Last error</th><th>Failed probes</th><th>Pool</th></tr></thead>
<tbody>
{{range .Databases}}<tr class="database" data-database="{{.Label}}" data-health="{{.Health}}" data-ready="{{.Ready}}">
<td class="name">{{.Label}}</td>
<td>{{.Dialect}}</td>
<td class="url">{{orDash .URL}}</td>
<td class="{{if .Ready}}ok{{else}}bad{{end}}">{{if .Ready}}ready{{else}}{{.Reason}}{{end}}</td>
<td>{{.Connected}}</td>
<td>{{.RefCount}}</td>
<td class="health">{{if .StatusError}}status {{.StatusError}}{{else}}{{.Health}}{{end}}</td>
<td>{{when .Since}}</td>
<td>{{orDash .LastError}}</td>
<td>{{.FailedProbes}}</td>
<td class="pool">{{with .PGXPool}}pgxpool {{.Total}}/{{.Max}} open<br>{{.Idle}} idle · {{.Acquired}} acquired<br>{{.EmptyAcquireCount}} empty acquires{{else}}{{with .SQLDB}}sql.DB {{.Open}}/{{if .MaxOpen}}{{.MaxOpen}}{{else}}∞{{end}} open<br>{{.Idle}} idle · {{.InUse}} in use<br>{{.WaitCount}} waits{{else}}–{{end}}{{end}}</td>
</tr>
{{end}}</tbody>
</table>
</body>
</html>
`))
