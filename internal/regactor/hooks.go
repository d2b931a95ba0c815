package regactor

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
)

// Model hooks: Go funcs the registry actor runs inside a registration,
// where Edgy runs its callbacks, so that what they change on the model is
// there when RegisterModel returns (Edgy: "use callbacks to modify
// models"). Actor callbacks stay notifications, sent afterwards.

// RegisterHook asks the registry actor to store a model hook under Msg's
// model and mode (Edgy's register_callback(model, fn, one_time)). Local
// only: a func does not cross nodes. The answer is a
// *messages.CallbackResult.
type RegisterHook struct {
	Msg *messages.RegisterCallback
	Fn  func(*models.Model) error
}

// modelHook is a stored hook; its pointer identifies it.
type modelHook struct {
	fn func(*models.Model) error
}

// ErrHookCall is what a blocking call of the registry's (or one of its
// databases') facade returns when made from inside a model hook: the hook
// runs inside the registry actor, which would wait for itself.
var ErrHookCall = fmt.Errorf("%w: called from inside a model hook: a hook runs inside the registry actor and must not make blocking calls on the registry or its databases (read the registry — Model, Models — or change the model it is given)", messages.ErrInvalidArgument)

// InHook reports whether the calling goroutine is running one of this
// registry's model hooks. Cheap when no hook runs.
func (p *Plan) InHook() bool {
	if p.book == nil {
		return false
	}
	g := p.book.hookG.Load()
	return g != 0 && g == goid()
}

// goid is the calling goroutine's id, read from its stack header
// ("goroutine 42 [running]:"). Only asked while a hook runs.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b, _ = bytes.CutPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

// runHook runs h on m with the book's write lock held (the caller's), the
// goroutine marked so that the facade's reads made by the hook do not wait
// for that lock and its blocking calls fail at once. A panic is recovered
// into an error: the registry actor keeps its book.
func (b *book) runHook(h *modelHook, m *models.Model, scrub func(string) string) (err error) {
	b.hookG.Store(goid())
	defer b.hookG.Store(0)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: model hook for %q panicked: %s", messages.ErrHookFailed, m.Name(), crash.Wrap(r, scrub).Reason)
		}
	}()
	if err := h.fn(m); err != nil {
		return fmt.Errorf("%w: model hook for %q: %w", messages.ErrHookFailed, m.Name(), err)
	}
	return nil
}

// addHook stores a hook as AddCallback does, and runs it at once for the
// models already registered that it fires for (Edgy's K2). Each runs on a
// clone first: if any fails, nothing changes — no model, no stored hook —
// and the error is returned; else what each added is added to the
// registered model itself.
func (b *book) addHook(model string, oneTime *bool, h *modelHook, scrub func(string) string) (stored bool, fired int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sub := b.cat.AddCallback(model, oneTime, callbackTarget{hook: h})
	undo := func() {
		if sub.Stored {
			b.cat.RemoveCallbacks(func(cb catalogCallback) bool { return cb.Target.hook == h })
		}
	}
	type change struct {
		m    *models.Model
		cols []*messages.ColumnDef
	}
	changes := make([]change, 0, len(sub.Fire))
	for _, e := range sub.Fire {
		trial, err := models.New(e.Model.Def())
		if err != nil { // cannot happen: the definition of a registered model
			undo()
			return false, 0, fmt.Errorf("%w: model hook: %w", messages.ErrInternal, err)
		}
		before := len(trial.Columns())
		if err := b.runHook(h, trial, scrub); err != nil {
			undo()
			return false, 0, err
		}
		changes = append(changes, change{m: e.Model, cols: trial.Columns()[before:]})
	}
	for _, c := range changes {
		for _, col := range c.cols {
			if err := c.m.AddColumn(col); err != nil { // validated on the trial already
				return sub.Stored, len(sub.Fire), fmt.Errorf("%w: model hook for %q: %w", messages.ErrHookFailed, c.m.Name(), err)
			}
		}
	}
	return sub.Stored, len(sub.Fire), nil
}

// registerHook answers a RegisterHook.
func (a *registryActor) registerHook(c actor.Context, m *RegisterHook) {
	if e := callbackRequestError(m.Msg); e != nil {
		a.respondAfter(c, &messages.CallbackResult{Error: e}, nil)
		return
	}
	if m.Fn == nil {
		a.respondAfter(c, &messages.CallbackResult{Error: &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Message: "RegisterModelHook: nil func"}}, nil)
		return
	}
	var oneTime *bool
	switch m.Msg.GetMode() {
	case messages.CallbackMode_CALLBACK_MODE_ONE_TIME:
		oneTime = new(true)
	case messages.CallbackMode_CALLBACK_MODE_PERSISTENT:
		oneTime = new(false)
	}
	stored, fired, err := a.p.book.addHook(m.Msg.GetModel(), oneTime, &modelHook{fn: m.Fn}, a.p.Scrub)
	if err != nil {
		a.respondAfter(c, &messages.CallbackResult{Error: errorMessage(err)}, nil)
		return
	}
	a.respondAfter(c, &messages.CallbackResult{Fired: uint32(fired), Stored: stored}, nil)
}
