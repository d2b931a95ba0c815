// Package tests holds dbactor's end-to-end suites: all-or-nothing connect
// against real PostgreSQL failures (refused, wrong password, missing
// database, a host that never answers), with real actors and no mocks.
package tests
