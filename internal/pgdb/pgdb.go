package pgdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// ErrConnLost is returned by a statement whose connection broke while it
// ran: it may or may not have been executed, and it was not retried.
var ErrConnLost = errors.New("dbactor: connection lost while the statement ran: it may have been executed, so it was not retried")

// OpenDB is stdlib.OpenDBFromPool with the retry fixed (see the package
// documentation). Closing it does not close pool.
func OpenDB(pool *pgxpool.Pool) *sql.DB {
	db := sql.OpenDB(connector{stdlib.GetPoolConnector(pool)})
	db.SetMaxIdleConns(0) // connections idle in the pgxpool, not here
	return db
}

type connector struct{ inner driver.Connector }

func (k connector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := k.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := c.(*stdlib.Conn)
	if !ok {
		_ = c.Close()
		return nil, fmt.Errorf("dbactor: unexpected pgx stdlib connection type %T", c)
	}
	return &conn{sc}, nil
}

func (k connector) Driver() driver.Driver { return k.inner.Driver() }

// conn is a stdlib connection (all of its methods) whose statements are
// not retried once they may have reached the server.
type conn struct{ *stdlib.Conn }

// ExecContext implements driver.ExecerContext.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.Conn.Conn().IsClosed() {
		return nil, driver.ErrBadConn // nothing sent: another connection may try
	}
	r, err := c.Conn.ExecContext(ctx, query, args)
	return r, mayHaveRun(err)
}

// QueryContext implements driver.QueryerContext.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.Conn.Conn().IsClosed() {
		return nil, driver.ErrBadConn
	}
	r, err := c.Conn.QueryContext(ctx, query, args)
	return r, mayHaveRun(err)
}

func mayHaveRun(err error) error {
	if errors.Is(err, driver.ErrBadConn) {
		return ErrConnLost
	}
	return err
}
