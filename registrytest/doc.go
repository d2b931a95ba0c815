// Package registrytest gives tests a connected registry whose databases
// run in rollback sandboxes (databasez's force_rollback, Ecto's SQL
// sandbox): what a test writes through Database.Run is rolled back when it
// ends, while DDL (CreateSchema, CreateAll) persists.
//
//	func TestSignup(t *testing.T) {
//	    reg := registrytest.New(t, registry.Config{})      // DBACTOR_TEST_DATABASE, else SQLite
//	    require.NoError(t, reg.CreateAll(ctx))             // persists
//	    err := reg.Database().Run(ctx, func(ctx context.Context, q actors.Querier) error {
//	        _, err := q.ExecContext(ctx, `INSERT INTO users (name) VALUES ('ann')`)
//	        return err                                     // rolled back at cleanup
//	    })
//	}
package registrytest
