package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/plumbing"
	"github.com/dbactor/dbactor/messages"
)

// Run runs one operation on the database, like an Edgy ORM call: it holds
// a ref count for the operation's length (Connect before, Disconnect after,
// even when fn fails or panics) and hands fn the database's *sql.DB — or,
// on a WithForceRollback database, the sandbox transaction, inside a
// savepoint of fn's own (rolled back if fn fails).
//
// When the database is not connected (Edgy's DatabaseNotConnectedWarning):
// Run logs a warning naming the database and the fix and publishes
// messages.DatabaseNotConnected, then opens the pool for this one
// operation and closes it again — slow, but it works. On a force-rollback
// database it refuses instead with ErrNotConnected (the sandbox would be
// rolled back as soon as the operation ended).
//
// Nothing else warns: Pool and DB return nil while the database is not
// connected, and Connect, Status and the schema operations connect on
// demand without a warning.
func (d *Database) Run(ctx context.Context, fn func(ctx context.Context, q actors.Querier) error) (err error) {
	if fn == nil {
		return fmt.Errorf("%w: Database.Run: nil func", messages.ErrInvalidArgument)
	}
	s := d.state
	if s.RefCount() == 0 && !s.Closed() {
		plumbing.Publish(s, d.caller.System, &messages.DatabaseNotConnected{Database: d.name, Refused: s.ForceRollback()})
		if s.ForceRollback() {
			return fmt.Errorf("%w: %s is a force-rollback database: connect it (reg.Connect, registry.Run) before Run", ErrNotConnected, messages.DisplayName(d.name))
		}
		s.Logger().Warn("dbactor: database not connected: Run opens its pool for this one operation, which is slow; connect the registry first (reg.Connect, registry.Run or registry.Serve)")
	}
	opened, err := d.Connect(ctx)
	if err != nil {
		return err
	}
	defer func() { err = joinErrors(err, d.disconnectOwed(ctx)) }()
	if s.ForceRollback() {
		if opened {
			// Disconnected between the check above and Connect: a sandbox
			// opened for this operation alone would be rolled back at once.
			return fmt.Errorf("%w: %s is a force-rollback database: connect it before Run", ErrNotConnected, messages.DisplayName(d.name))
		}
		err = s.InSandbox(ctx, fn)
		if errors.Is(err, actors.ErrSandboxClosed) {
			err = fmt.Errorf("%w: %w", ErrNotConnected, err)
		}
		return err
	}
	db := s.DB()
	if db == nil { // force-disconnected meanwhile
		return fmt.Errorf("%w: %s was disconnected", ErrNotConnected, messages.DisplayName(d.name))
	}
	return fn(ctx, db)
}
