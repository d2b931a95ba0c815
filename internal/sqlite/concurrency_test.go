package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	msqlite "modernc.org/sqlite"

	"github.com/dbactor/dbactor/messages"
)

// droppedUnderfoot reports whether err is what a statement gets from
// SQLite when it writes to a schema dropped while it ran (documented on
// DropSchema): the file was unlinked (SQLITE_READONLY_DBMOVED) or its
// journal was, as SQLite deleted it (SQLITE_IOERR_DELETE_NOENT) or looked
// at it (SQLITE_IOERR_FSTAT, seen under load: 2 of about 10 runs of the
// whole suite on 2 busy cores).
func droppedUnderfoot(err error) bool {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	const readonlyDBMoved, ioerrFstat, ioerrDeleteNoent = 1032, 1802, 5898
	switch se.Code() {
	case readonlyDBMoved, ioerrFstat, ioerrDeleteNoent:
		return true
	}
	return false
}

// race runs fs at the same moment (as near as goroutines allow) and
// returns their errors.
func race(fs ...func() error) []error {
	errs := make([]error, len(fs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, f := range fs {
		wg.Go(func() {
			<-start
			errs[i] = f()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// requireOneWinner checks exactly one error is nil and the others say
// "already exists".
func requireOneWinner(t *testing.T, errs []error) {
	t.Helper()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, messages.ErrSchema)
		require.Contains(t, err.Error(), "already exists")
	}
	require.Equal(t, 1, won, "exactly one CreateSchema succeeds: %v", errs)
}

func TestConcurrentCreateSameName(t *testing.T) {
	eachKind(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		spellings := []string{"dup", "Dup", "DUP", "dUp"}
		for round := range 20 {
			var fs []func() error
			for i := range 8 {
				fs = append(fs, func() error { return d.CreateSchema(ctx, spellings[i%len(spellings)], false) })
			}
			requireOneWinner(t, race(fs...))
			names, err := d.Schemas(ctx)
			require.NoError(t, err)
			require.Len(t, names, 2, "round %d: %v", round, names)
			require.NoError(t, d.DropSchema(ctx, "dup", false, false))
		}
	})
}

// TestConcurrentCreateSameNameTwoDBs: two DB values on one file (as two
// processes) race too; the directory lock lets exactly one win.
func TestConcurrentCreateSameNameTwoDBs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	a, b := openFile(t, path), openFile(t, path)
	for round := range 20 {
		var fs []func() error
		for i := range 8 {
			d := a
			if i%2 == 1 {
				d = b
			}
			name := "shared"
			if i%4 >= 2 {
				name = "SHARED"
			}
			fs = append(fs, func() error { return d.CreateSchema(ctx, name, false) })
		}
		requireOneWinner(t, race(fs...))
		require.Len(t, schemaFiles(t, path), 1, "round %d", round)
		require.NoError(t, b.DropSchema(ctx, "shared", false, false))
		_, err := a.Schemas(ctx)
		require.NoError(t, err)
	}
}

// TestConcurrentSchemaChangesAndQueries: schemas come and go while queries
// run on the pool. Queries may find a schema missing, nothing worse; at the
// end every pooled connection has exactly the listed schemas attached.
func TestConcurrentSchemaChangesAndQueries(t *testing.T) {
	eachKind(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		db := d.SQL()
		db.SetMaxIdleConns(8)
		names := []string{"s0", "s1", "S2", "s3"}
		iterations := 25
		if d.memory {
			iterations = 10
		}

		stop := make(chan struct{})
		var queries, ddl sync.WaitGroup
		unexpected := make(chan error, 100)
		report := func(err error) {
			select {
			case unexpected <- err:
			default:
			}
		}
		// Query workers: write to and read from whatever schema exists now.
		for w := range 6 {
			queries.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := names[(w+i)%len(names)]
					_, err := db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO "%s".t (v) VALUES (?)`, name), i)
					if err != nil && !strings.Contains(err.Error(), "no such table") && !droppedUnderfoot(err) {
						report(fmt.Errorf("insert into %s: %w", name, err))
					}
					var n int
					if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pragma_database_list").Scan(&n); err != nil {
						report(err)
					} else if n > 12 {
						report(fmt.Errorf("%d databases attached", n))
					}
					if _, err := d.Schemas(ctx); err != nil {
						report(err)
					}
					d.HasSchema(name)
				}
			})
		}
		// Two goroutines create and drop the same names.
		for g := range 2 {
			ddl.Go(func() {
				for i := range iterations {
					name := names[(g+i)%len(names)]
					if err := d.CreateSchema(ctx, name, true); err != nil {
						report(err)
					}
					_, err := db.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS "%s".t (v)`, name))
					if err != nil && !strings.Contains(err.Error(), "unknown database") && !droppedUnderfoot(err) {
						report(fmt.Errorf("create table in %s: %w", name, err))
					}
					if i%3 == 2 {
						if err := d.DropSchema(ctx, name, true, true); err != nil {
							report(err)
						}
					}
				}
			})
		}
		ddl.Wait()
		close(stop)
		queries.Wait()
		close(unexpected)
		for err := range unexpected {
			t.Error(err)
		}

		listed, err := d.Schemas(ctx)
		require.NoError(t, err)
		want := slices.Clone(listed[1:])
		slices.Sort(want)
		n := 8
		if d.memory {
			n = 1
		}
		scs, _ := holdConns(t, db, n)
		for i, sc := range scs {
			require.Equal(t, want, attachedOn(t, sc), "connection %d", i)
		}
		release(t, scs)
		if !d.memory {
			require.Len(t, schemaFiles(t, strings.TrimSuffix(d.dir, ".schemas")), len(want))
		}
	})
}
