// Package testdb gives tests PostgreSQL servers and misbehaving network
// endpoints.
//
// Shared server: [PostgresDSN] returns the DSN in $DBACTOR_TEST_DATABASE
// (scripts/ensure-postgres.sh prints one; `make test` sets it). When the
// variable is unset or the server is unreachable, the test is skipped, or
// fails when CI=true, so CI never silently skips PostgreSQL tests.
// [NewPostgresDatabase] creates a fresh database on that server for one
// test and drops it afterwards.
//
// Private server: [StartCluster] runs a throwaway PostgreSQL cluster from
// the locally installed binaries (initdb, pg_ctl), optionally with password
// authentication, and lets a test stop and restart it to inject faults.
//
// Broken endpoints: [Blackhole] accepts TCP connections and never answers;
// [ClosedPort] refuses them; [StartProxy] puts a TCP proxy in front of a
// server that can pass, refuse, delay, blackhole or cut connections on
// command.
//
// Every helper registers its own cleanup with t.Cleanup and leaves no
// goroutines behind.
package testdb
