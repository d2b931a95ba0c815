package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/dbactor/dbactor/registry"
)

// cleanupTimeout bounds what must happen even after ctx ended: unlocking,
// giving a count back.
const cleanupTimeout = 10 * time.Second

func (m *Migrator) run(ctx context.Context, op Op, opts []Option) (*Report, error) {
	c, err := m.config(opts)
	if err != nil {
		return nil, err
	}
	rep := &Report{Op: op, DryRun: c.dryRun && op != OpStatus}
	for _, name := range c.databases {
		if _, err := m.database(name); err != nil {
			return nil, fmt.Errorf("%w: Databases(%q): %w", ErrInvalidArgument, dirName(name), err)
		}
	}
	failed := false
	for _, d := range m.reg.Databases() {
		if !c.selected(d.Name()) {
			continue
		}
		dir := dirName(d.Name())
		own := m.hasSet(c, dir)
		ten := !c.noTenants && m.hasSet(c, dir+"/"+TenantsDir)
		if !own && !ten {
			continue
		}
		if failed && c.stopOnError {
			if own {
				rep.Results = append(rep.Results, Result{Database: d.Name(), Dir: dir, Skipped: true})
			}
			for _, t := range c.tenants {
				if ten {
					rep.Results = append(rep.Results, Result{Database: d.Name(), Schema: t, Dir: dir + "/" + TenantsDir, Skipped: true})
				}
			}
			continue
		}
		for _, res := range m.runDatabase(ctx, c, op, d, own, ten) {
			if res.Err != nil {
				failed = true
				res.Error = res.Err.Error()
			}
			rep.Results = append(rep.Results, res)
		}
	}
	return rep, rep.Err()
}

func (m *Migrator) database(name string) (*registry.Database, error) {
	if name == "" {
		return m.reg.Database(), nil
	}
	return m.reg.Extra(name)
}

// hasSet reports whether dir holds migrations (SQL files or Go migrations).
func (m *Migrator) hasSet(c *config, dir string) bool {
	if len(c.goMigs[dir]) > 0 {
		return true
	}
	files, _ := fs.Glob(m.fsys, path.Join(dir, "*.sql"))
	return len(files) > 0
}

// runDatabase runs the sets of one database: its own, then its tenants'.
func (m *Migrator) runDatabase(ctx context.Context, c *config, op Op, d *registry.Database, own, ten bool) (out []Result) {
	dir := dirName(d.Name())
	fail := func(schema, setDir string, err error) Result {
		return Result{Database: d.Name(), Schema: schema, Dir: setDir, Err: &MigrationError{Database: d.Name(), Schema: schema, Op: op, Err: err}}
	}
	failAll := func(err error) []Result {
		var rs []Result
		if own {
			rs = append(rs, fail("", dir, err))
		}
		if ten {
			for _, t := range c.tenants {
				rs = append(rs, fail(t, dir+"/"+TenantsDir, err))
			}
		}
		return rs
	}
	// A count for the run, as schema calls take one: the database is open
	// while its sets run, however its registry is held.
	opened, err := d.Connect(ctx)
	if err != nil {
		return failAll(err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_, _ = d.Disconnect(dctx)
	}()
	b, err := newBackend(ctx, d, opened)
	if err != nil {
		return failAll(err)
	}
	if own {
		out = append(out, m.runSet(ctx, c, op, b, "", dir))
	}
	if !ten {
		return out
	}
	tenants, missing, err := m.tenants(ctx, c, d)
	if err != nil {
		return append(out, fail("", dir+"/"+TenantsDir, fmt.Errorf("listing the tenant schemas: %w", err)))
	}
	for _, t := range tenants {
		if b.memory {
			out = append(out, fail(t, dir+"/"+TenantsDir, fmt.Errorf("%w: tenant migrations on an in-memory SQLite database", ErrUnsupported)))
			continue
		}
		if c.stopOnError && anyFailed(out) {
			out = append(out, Result{Database: d.Name(), Schema: t, Dir: dir + "/" + TenantsDir, Skipped: true})
			continue
		}
		out = append(out, m.runSet(ctx, c, op, b, t, dir+"/"+TenantsDir))
	}
	for _, t := range missing {
		out = append(out, fail(t, dir+"/"+TenantsDir, fmt.Errorf("%w: %q", ErrUnknownSchema, t)))
	}
	return out
}

func anyFailed(rs []Result) bool {
	return slices.ContainsFunc(rs, func(r Result) bool { return r.Err != nil })
}

// tenants lists the tenant schemas of d that take part, and the ones named
// with Tenants that do not exist.
func (m *Migrator) tenants(ctx context.Context, c *config, d *registry.Database) (tenants, missing []string, err error) {
	all, err := m.reg.Schemas(ctx, d.Name())
	if err != nil {
		return nil, nil, err
	}
	if c.tenantsSet {
		for _, t := range c.tenants {
			if slices.ContainsFunc(all, func(s string) bool { return s == t || (!isPostgres(d) && strings.EqualFold(s, t)) }) {
				tenants = append(tenants, t)
			} else {
				missing = append(missing, t)
			}
		}
		return tenants, missing, nil
	}
	def, err := m.reg.DefaultSchema(ctx, d.Name())
	if err != nil {
		return nil, nil, err
	}
	for _, s := range all {
		switch s {
		case def, "public", "main", "temp", m.reg.Schema():
			continue
		}
		tenants = append(tenants, s)
	}
	return tenants, nil, nil
}

// runSet runs op on one set: the database's own (schema "") or a tenant's.
func (m *Migrator) runSet(ctx context.Context, c *config, op Op, b *backend, schema, dir string) (res Result) {
	res = Result{Database: b.d.Name(), Schema: schema, Dir: dir}
	fail := func(version int64, source string, err error) {
		res.Err = &MigrationError{Database: b.d.Name(), Schema: schema, Version: version, Source: source, Op: op, Err: err}
	}
	db, closeDB, err := b.open(ctx, schema)
	if err != nil {
		fail(0, "", err)
		return res
	}
	defer closeDB()
	sub, err := fs.Sub(m.fsys, dir)
	if err != nil {
		fail(0, "", fmt.Errorf("%w: %w", ErrLayout, err))
		return res
	}
	popts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithTableName(c.table),
		goose.WithGoMigrations(c.goMigs[dir]...),
	}
	if c.logger != nil {
		popts = append(popts, goose.WithSlog(c.logger.With("database", dirName(b.d.Name()), "schema", schema)))
	} else {
		popts = append(popts, goose.WithLogger(goose.NopLogger()))
	}
	p, err := goose.NewProvider(b.dialect, db, sub, popts...)
	if errors.Is(err, goose.ErrNoMigrations) {
		return res
	}
	if err != nil {
		fail(0, "", fmt.Errorf("%w: %s: %w", ErrLayout, dir, err))
		return res
	}
	sources := p.ListSources()

	write := op != OpStatus && !c.dryRun
	if write {
		unlock, err := b.lock(ctx, db, schema, c.table)
		if err != nil {
			fail(0, "", fmt.Errorf("taking the migration lock: %w", err))
			return res
		}
		defer unlock()
	}
	applied, err := b.readApplied(ctx, db, c.table)
	if err != nil {
		fail(0, "", fmt.Errorf("reading the version table: %w", err))
		return res
	}
	res.Before = maxVersion(applied)
	res.Migrations, res.Version = states(sources, applied)
	if op == OpStatus {
		return res
	}

	plan, err := planOf(op, c, sources, applied)
	if err != nil {
		fail(0, "", err)
		return res
	}
	if c.dryRun {
		res.Ran = plan
		return res
	}
	if len(plan) > 0 {
		var results []*goose.MigrationResult
		switch {
		case op == OpUp:
			results, err = p.UpTo(ctx, target(c))
		case c.toSet:
			results, err = p.DownTo(ctx, c.to)
		default:
			var r *goose.MigrationResult
			r, err = p.Down(ctx)
			if r != nil {
				results = []*goose.MigrationResult{r}
			}
		}
		var partial *goose.PartialError
		switch {
		case errors.As(err, &partial):
			results = partial.Applied
			fail(partial.Failed.Source.Version, partial.Failed.Source.Path, partial.Err)
		case errors.Is(err, goose.ErrNoNextVersion):
		case err != nil:
			fail(0, "", err)
		}
		for _, r := range results {
			res.Ran = append(res.Ran, Migration{Version: r.Source.Version, Source: r.Source.Path, State: stateAfter(op)})
		}
	}
	// What the version table says now, whatever happened.
	if after, err := b.readApplied(ctx, db, c.table); err == nil {
		res.Migrations, res.Version = states(sources, after)
		for i := range res.Ran {
			res.Ran[i].AppliedAt = after[res.Ran[i].Version]
		}
	}
	return res
}

func stateAfter(op Op) State {
	if op == OpDown {
		return Pending
	}
	return Applied
}

func target(c *config) int64 {
	if c.toSet {
		return c.to
	}
	return math.MaxInt64
}

// planOf is what op would run, in order, given what is applied: goose's own
// rules (Up refuses missing, out-of-order migrations).
func planOf(op Op, c *config, sources []*goose.Source, applied map[int64]time.Time) ([]Migration, error) {
	var plan []Migration
	if op == OpUp {
		if c.toSet && c.to == 0 {
			return nil, nil
		}
		top := maxVersion(applied)
		var missing []int64
		for _, s := range sources {
			if _, ok := applied[s.Version]; ok || s.Version > target(c) {
				continue
			}
			if s.Version < top {
				missing = append(missing, s.Version)
			}
			plan = append(plan, Migration{Version: s.Version, Source: s.Path, State: Pending})
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("found %d missing (out-of-order) migrations below the current version %d: %v", len(missing), top, missing)
		}
		return plan, nil
	}
	byVersion := map[int64]*goose.Source{}
	for _, s := range sources {
		byVersion[s.Version] = s
	}
	versions := make([]int64, 0, len(applied))
	for v := range applied {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	slices.Reverse(versions)
	for _, v := range versions {
		if c.toSet && v <= c.to {
			break
		}
		s, ok := byVersion[v]
		if !ok {
			return nil, fmt.Errorf("version %d is applied but has no migration in the directory", v)
		}
		plan = append(plan, Migration{Version: v, Source: s.Path, State: Applied, AppliedAt: applied[v]})
		if !c.toSet {
			break
		}
	}
	return plan, nil
}

// states lists every source with its state, and the highest applied version.
func states(sources []*goose.Source, applied map[int64]time.Time) ([]Migration, int64) {
	out := make([]Migration, 0, len(sources))
	for _, s := range sources {
		m := Migration{Version: s.Version, Source: s.Path, State: Pending}
		if at, ok := applied[s.Version]; ok {
			m.State, m.AppliedAt = Applied, at
		}
		out = append(out, m)
	}
	return out, maxVersion(applied)
}

func maxVersion(applied map[int64]time.Time) int64 {
	var top int64
	for v := range applied {
		top = max(top, v)
	}
	return top
}
