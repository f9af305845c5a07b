package irc

import (
	"context"
	"fmt"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/transports"
)

// occupantID is a member's transports.OccupantEvent.OccupantID: their
// services account (IRCv3 account-tag, extended-join, account-notify),
// folded, which stays with them across nick changes and is unique on the
// network; "" for a member logged in to no account, whom only the nick
// names.
func occupantID(account string) string {
	if account == "" {
		return ""
	}
	return "account:" + FoldName(account)
}

// SetNick implements transports.Nicker. An IRC nick belongs to the
// connection, so the new nick shows in every channel of room's server,
// each by the OccupantEvent the server's NICK brings; it lasts until the
// connection is dialled again, which asks for the registered nick. A nick
// in use is an error wrapping ErrConflict, one the server refuses
// ErrInvalidInput (erroneous) or another sentinel, with the server's
// text.
func (a *adapter) SetNick(ctx context.Context, room transports.ID, nick string) error {
	c, _, err := a.channel(room)
	if err != nil {
		return err
	}
	return c.setNick(ctx, nick)
}

// setNick sends NICK and waits for the server's NICK, or the numeric
// that refuses it.
func (c *conn) setNick(ctx context.Context, nick string) error {
	if !validNick(nick) {
		return fmt.Errorf("%w: %q is not an IRC nickname", transports.ErrInvalidInput, nick)
	}
	c.mu.Lock()
	old := c.nick
	c.mu.Unlock()
	if old == nick {
		return nil
	}
	w := c.addAwait(func(e *girc.Event, _ bool) (bool, error) {
		switch e.Command {
		case "NICK":
			// The connection's nick is the new one by the time awaits
			// run: the line is known by its source, the old nick.
			return e.Source != nil && EqualFold(e.Source.Name, old) && len(e.Params) >= 1 && EqualFold(e.Params[0], nick), nil
		case "432", "433", "436", "437", "438", "447":
			// erroneous, in use, collision, unavailable, too fast, not
			// while in a channel with +N
			if len(e.Params) >= 2 && EqualFold(e.Params[1], nick) {
				return true, serverError(c.server, e)
			}
		}
		return false, nil
	})
	return c.request(ctx, w, "the nick change", "NICK "+nick)
}
