package messages

import (
	"context"
	"errors"
)

// Sentinel errors, one per Code. A *Error matches the sentinel of its code
// with errors.Is, so callers never compare codes by hand:
//
//	if errors.Is(err, messages.ErrTimeout) { … }
//
// The registry package re-exports these under the same names.
var (
	ErrInternal         = errors.New("dbactor: internal error")
	ErrInvalidArgument  = errors.New("dbactor: invalid request")
	ErrInvalidConfig    = errors.New("dbactor: invalid configuration")
	ErrUnknownDatabase  = errors.New("dbactor: unknown database")
	ErrConnectFailed    = errors.New("dbactor: connect failed")
	ErrTimeout          = errors.New("dbactor: timeout")
	ErrHookFailed       = errors.New("dbactor: hook failed")
	ErrDisconnectFailed = errors.New("dbactor: disconnect failed")
	ErrRollbackFailed   = errors.New("dbactor: rollback failed")
	ErrClosed           = errors.New("dbactor: closed")
	ErrCanceled         = errors.New("dbactor: canceled")
	ErrSchema           = errors.New("dbactor: schema error")
	ErrUnsupported      = errors.New("dbactor: unsupported")
	ErrModelCollision   = errors.New("dbactor: model collision")
	ErrUnknownModel     = errors.New("dbactor: unknown model")
	ErrInvalidModel     = errors.New("dbactor: invalid model")
	ErrInvalidName      = errors.New("dbactor: invalid name")
	ErrNotConnected     = errors.New("dbactor: database not connected")
	ErrOverloaded       = errors.New("dbactor: overloaded")
	ErrLimitExceeded    = errors.New("dbactor: result limit exceeded")
	ErrQuery            = errors.New("dbactor: statement failed")
	ErrUnavailable      = errors.New("dbactor: node unavailable")
	ErrPermissionDenied = errors.New("dbactor: permission denied")
	ErrQuotaExceeded    = errors.New("dbactor: quota exceeded")
	ErrMigration        = errors.New("dbactor: migration failed")
)

// codeSentinels is ordered so that CodeOf finds the most specific code first.
var codeSentinels = []struct {
	code Code
	err  error
}{
	{Code_CODE_ROLLBACK_FAILED, ErrRollbackFailed},
	{Code_CODE_PERMISSION_DENIED, ErrPermissionDenied},
	{Code_CODE_QUOTA_EXCEEDED, ErrQuotaExceeded},
	{Code_CODE_LIMIT_EXCEEDED, ErrLimitExceeded},
	{Code_CODE_OVERLOADED, ErrOverloaded},
	{Code_CODE_NOT_CONNECTED, ErrNotConnected},
	{Code_CODE_QUERY, ErrQuery},
	{Code_CODE_UNAVAILABLE, ErrUnavailable},
	{Code_CODE_INVALID_NAME, ErrInvalidName},
	{Code_CODE_INVALID_MODEL, ErrInvalidModel},
	{Code_CODE_MODEL_COLLISION, ErrModelCollision},
	{Code_CODE_UNKNOWN_MODEL, ErrUnknownModel},
	{Code_CODE_UNSUPPORTED, ErrUnsupported},
	{Code_CODE_SCHEMA, ErrSchema},
	{Code_CODE_HOOK_FAILED, ErrHookFailed},
	{Code_CODE_INVALID_CONFIG, ErrInvalidConfig},
	{Code_CODE_INVALID_ARGUMENT, ErrInvalidArgument},
	{Code_CODE_UNKNOWN_DATABASE, ErrUnknownDatabase},
	{Code_CODE_CLOSED, ErrClosed},
	{Code_CODE_TIMEOUT, ErrTimeout},
	{Code_CODE_CANCELED, ErrCanceled},
	{Code_CODE_CONNECT_FAILED, ErrConnectFailed},
	{Code_CODE_DISCONNECT_FAILED, ErrDisconnectFailed},
	// Behind every other: a migration set's failure says what caused it
	// when it can (a timeout, a connect failure).
	{Code_CODE_MIGRATION, ErrMigration},
	{Code_CODE_INTERNAL, ErrInternal},
}

// Sentinel returns the sentinel error of the code (ErrInternal for
// CODE_UNSPECIFIED and codes this binary does not know).
func (c Code) Sentinel() error {
	for _, cs := range codeSentinels {
		if cs.code == c {
			return cs.err
		}
	}
	return ErrInternal
}

// Error implements error: the message, which never contains a password.
func (e *Error) Error() string {
	if e.GetMessage() == "" {
		return e.GetCode().Sentinel().Error()
	}
	return e.GetMessage()
}

// Is reports whether target is the sentinel of e's code. A timeout also
// matches context.DeadlineExceeded and a cancellation context.Canceled, so
// callers can treat dbactor deadlines like their own.
func (e *Error) Is(target error) bool {
	if e == nil {
		return false
	}
	switch e.GetCode() {
	case Code_CODE_TIMEOUT:
		if target == context.DeadlineExceeded {
			return true
		}
	case Code_CODE_CANCELED:
		if target == context.Canceled {
			return true
		}
	}
	return target == e.GetCode().Sentinel()
}

// CodeOf classifies a Go error: the code of a *Error in its chain, else the
// code of the first sentinel it matches, else fallback.
func CodeOf(err error, fallback Code) Code {
	var me *Error
	if errors.As(err, &me) && me.GetCode() != Code_CODE_UNSPECIFIED {
		return me.GetCode()
	}
	for _, cs := range codeSentinels {
		if errors.Is(err, cs.err) {
			return cs.code
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Code_CODE_TIMEOUT
	case errors.Is(err, context.Canceled):
		return Code_CODE_CANCELED
	}
	return fallback
}

// Join returns errs as one Go error (errors.Join), or nil when there are none.
func Join(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// FailedReply is the reply of the right type for a protocol request that
// failed before it was handled, carrying e; nil when req is not a request.
func FailedReply(req any, e *Error) any {
	switch r := req.(type) {
	case *Connect:
		return &ConnectResult{Errors: []*Error{e}}
	case *Disconnect:
		return &DisconnectResult{Errors: []*Error{e}}
	case *GetStatus:
		return &Status{Database: e.GetDatabase(), Error: e}
	case *ListDatabases:
		return &DatabaseList{Error: e}
	case *CreateSchema, *DropSchema, *CreateAll, *DropAll:
		return &SchemaResult{Errors: []*Error{e}}
	case *GetSchemas:
		return &SchemaList{Database: e.GetDatabase(), Error: e}
	case *RegisterModel, *DeleteModel:
		return &ModelResult{Error: e}
	case *RegisterCallback:
		return &CallbackResult{Error: e}
	case *Query:
		return &QueryResult{Error: e}
	case *Exec:
		return &ExecResult{Error: e}
	case *Migrate:
		return &MigrateResult{Op: r.GetOp(), DryRun: r.GetDryRun(), Error: e}
	}
	return nil
}
