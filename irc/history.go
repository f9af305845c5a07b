package irc

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/transports"
)

// Room history with IRCv3 draft/chathistory: the server answers a
// CHATHISTORY request with a BATCH of the messages, which must reach the
// request, not the user as live messages. The capability is negotiated in
// caps.go.

var _ transports.History = (*adapter)(nil)

// History implements transports.History.
func (a *adapter) History(ctx context.Context, room transports.ID, since time.Time, max int) ([]transports.MessageEvent, error) {
	t, err := a.target(room)
	if err != nil {
		return nil, err
	}
	if t.Channel == "" {
		return nil, fmt.Errorf("%w: %s is not a channel", transports.ErrNotFound, room)
	}
	c, err := a.existing(t.Server)
	if err != nil {
		return nil, err
	}
	return c.history(ctx, t.Channel, since, max)
}

// maxOpenBatches caps the history batches a server may keep open.
const maxOpenBatches = 16

// historyBatch is a CHATHISTORY request's BATCH being received.
type historyBatch struct {
	target string // folded channel name
}

func (c *conn) history(ctx context.Context, name string, since time.Time, max int) ([]transports.MessageEvent, error) {
	if !c.keepsHistory() {
		return nil, fmt.Errorf("%w: %s keeps no history", transports.ErrUnsupported, c.server)
	}
	max = c.historyMax(max)
	from := "*"
	if !since.IsZero() {
		from = "timestamp=" + since.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return c.historyRequest(ctx, name, "LATEST "+name+" "+from, max)
}

// keepsHistory reports whether the server answers CHATHISTORY.
func (c *conn) keepsHistory() bool { return c.hasCap("draft/chathistory") || c.hasCap("chathistory") }

// historyMax is max bounded by the server's CHATHISTORY limit (50 when
// it names none, 1000 at most); 0 or less is that limit.
func (c *conn) historyMax(max int) int {
	limit := 50
	c.mu.Lock()
	if n := c.isupport.historyLimit; n > 0 {
		limit = min(n, 1000)
	}
	c.mu.Unlock()
	if max <= 0 || max > limit {
		max = limit
	}
	return max
}

// historyRequest sends the CHATHISTORY subcommand sub (its parameters
// before the limit) about channel name and collects the answer's BATCH,
// at most max messages.
func (c *conn) historyRequest(ctx context.Context, name, sub string, max int) ([]transports.MessageEvent, error) {
	key := FoldName(name)
	var (
		ref  string
		msgs []transports.MessageEvent
	)
	w := c.addAwait(func(e *girc.Event, self bool) (bool, error) {
		switch e.Command {
		case "BATCH":
			if len(e.Params) >= 3 && strings.HasPrefix(e.Params[0], "+") && strings.HasSuffix(e.Params[1], "chathistory") && FoldName(e.Params[2]) == key && ref == "" {
				ref = e.Params[0][1:]
			} else if len(e.Params) >= 1 && ref != "" && e.Params[0] == "-"+ref {
				return true, nil
			}
		case "PRIVMSG", "NOTICE":
			if b, ok := e.Tags.Get("batch"); ok && b == ref && ref != "" && len(e.Params) >= 2 {
				if m := c.messageEvent(e); m != nil && len(msgs) < max {
					if self {
						m.Own, m.Mention = true, false
					}
					msgs = append(msgs, *m)
				}
			}
		case "FAIL":
			if len(e.Params) >= 2 && e.Params[0] == "CHATHISTORY" {
				return true, fmt.Errorf("%w: %s", transports.ErrUnavailable, DecodeText(lastParam(e.Params)))
			}
		}
		return false, nil
	})
	if err := c.request(ctx, w, "the history request", "CHATHISTORY "+sub+" "+strconv.Itoa(max)); err != nil {
		return nil, err
	}
	return msgs, nil
}

// historyLine reports whether e belongs to a history BATCH (the BATCH
// lines themselves, and the messages tagged with its reference); those
// are for the request, never live messages. It tracks open batches.
func (c *conn) historyLine(e *girc.Event) bool {
	if e.Command == "BATCH" && len(e.Params) >= 1 {
		ref := e.Params[0]
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case strings.HasPrefix(ref, "+") && len(e.Params) >= 2 && strings.HasSuffix(e.Params[1], "chathistory"):
			if c.batches == nil {
				c.batches = make(map[string]bool)
			}
			if len(c.batches) < maxOpenBatches {
				c.batches[ref[1:]] = true
			}
			return true
		case strings.HasPrefix(ref, "-") && c.batches[ref[1:]]:
			delete(c.batches, ref[1:])
			if len(c.batches) == 0 {
				c.batches = nil // most connections have none open most of the time
			}
			return true
		}
		return false
	}
	ref, ok := e.Tags.Get("batch")
	if !ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.batches[ref]
}
