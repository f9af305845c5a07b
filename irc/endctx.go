package irc

import (
	"context"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// endCtx is an adapter's context: it ends, Canceled, when the adapter
// closes (end), and has no deadline and no values.
//
// It is not a context.WithCancel for memory: a cancelCtx keeps a map of
// the contexts derived from it, made at the first and never shrunk, for
// its own life, and every connection derives one for its dial; the map and
// its first group cost each user about 250 bytes of live heap. A context
// derived from an endCtx is watched instead by a goroutine of the context
// package's, which ends with it (a dial, a history request: seconds). Its
// Done channel is a transports.Latch's, made only when asked for.
type endCtx struct {
	ended transports.Latch
}

var _ context.Context = (*endCtx)(nil)

func (*endCtx) Deadline() (deadline time.Time, ok bool) { return }

func (*endCtx) Value(any) any { return nil }

// Done implements context.Context.
func (c *endCtx) Done() <-chan struct{} { return c.ended.Done() }

// Err implements context.Context.
func (c *endCtx) Err() error {
	if c.ended.IsSet() {
		return context.Canceled
	}
	return nil
}

// end ends the context; later calls do nothing.
func (c *endCtx) end() { c.ended.Set() }

func (c *endCtx) String() string { return "irc.adapterContext" }
