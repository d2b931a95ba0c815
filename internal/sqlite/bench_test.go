package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkPooledStatement is the hot path every pooled statement takes:
// database/sql hands out a connection (ResetSession: catch up with the
// schema set, including changes other DBs and processes made), runs one
// statement (SELECT 1), takes it back. On a file database with one schema
// attached, and on one that has no schema directory at all.
func BenchmarkPooledStatement(b *testing.B) {
	for _, schemas := range []int{1, 0} {
		name := "one-schema"
		if schemas == 0 {
			name = "no-schemas"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "app.db")
			d, err := openForBench(path)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			if schemas > 0 {
				if err := d.CreateSchema(ctx, "tenant", false); err != nil {
					b.Fatal(err)
				}
			}
			db := d.SQL()
			var n int
			b.ReportAllocs()
			for b.Loop() {
				if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
