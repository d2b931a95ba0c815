// Package echo is Edgy's echo=True for Go: every statement a database's
// pool runs is logged, with its arguments redacted and every configured
// password scrubbed from the text. PostgreSQL statements are seen through a
// pgx.QueryTracer; SQLite statements through the internal/sqlite
// connection, which calls Echo.Statement.
package echo
