// Package pgdb builds the *sql.DB a PostgreSQL database hands out: pgx's
// stdlib adapter over the database's pgxpool, minus one unsafe retry.
//
// database/sql re-runs a statement on another connection when the driver
// answers driver.ErrBadConn, which a driver may only do when the statement
// was never sent. pgx (v5.12) also answers it when the connection broke
// while a simple-protocol statement (one without arguments) was running —
// the statement may have run, and an INSERT is then executed twice. A
// connection that was open when the statement started and reports
// ErrBadConn afterwards therefore gets ErrConnLost, which database/sql does
// not retry.
package pgdb
