package sms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// The administrators' say in who has which number (operator mode): the
// "Assign a number" command gives a user a number of the pool, or one
// the admin names, whether or not the user registered yet. The network's
// store is the truth of it: "number/<n>" names the user who has n,
// "user/<jid>" the number of a user; Register hands a user the number
// assigned before, and a session sends from the number the store names
// at each text, so a new assignment holds at once.

// nodeAssign is the node of the "Assign a number" admin command.
const nodeAssign = "assign-number"

// assignCommand is the "Assign a number" admin command.
var assignCommand = transports.AdminCommand{
	Node: nodeAssign, Name: "Assign a number",
	Instructions: "Give a user a number: texts to it reach them, and theirs go out from it. A user not registered yet gets it when they register; a registered user's previous number is released.",
	Fields: []transports.Field{
		{Name: "user", Label: "User (bare JID)", Kind: transports.FieldText, Required: true, MaxLen: 1023},
		{Name: "number", Label: "Number", Kind: transports.FieldText, MaxLen: 32,
			Desc: "A number such as +15551234567; empty for the first free number of the pool"},
	},
}

var _ transports.AdminCommander = (*Network)(nil)

// RunAdminCommand implements transports.AdminCommander: "Assign a
// number" (operator mode).
func (n *Network) RunAdminCommand(ctx context.Context, node string, values map[string]string) (string, error) {
	if node != nodeAssign || n.cfg.Mode != ModeOperator {
		return "", fmt.Errorf("%w: the SMS gateway has no command %q", transports.ErrNotFound, node)
	}
	user, err := bareJID(values["user"])
	if err != nil {
		return "", err
	}
	num, err := n.Assign(ctx, user, values["number"])
	if err != nil {
		return "", err
	}
	h := n.Hooks()
	registered := false
	if h.Credentials != nil {
		_, err := h.Credentials.Credentials(ctx, user)
		registered = err == nil
	}
	if !registered {
		return fmt.Sprintf("%s has %s; they get it when they register.", user, num), nil
	}
	// Tell them; the assignment holds whether or not this reaches them.
	if err := h.Deliver.Deliver(ctx, user, &transports.NoticeEvent{Text: "An administrator gave you the number " + num + ": texts to it reach you, and yours go out from it."}); err != nil {
		n.log.Warn("telling a user of their new number", "user", user, "err", err)
	}
	return fmt.Sprintf("%s has %s.", user, num), nil
}

// bareJID checks that s reads as a user's bare JID (local@domain, no
// resource) and returns it lower-cased, as the gateway keys users. The
// network knows no XMPP: this is a plausibility check, not JID
// preparation.
func bareJID(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(s, "/ \t") || strings.Contains(domain, "@") {
		return "", fmt.Errorf("%w: %q is not a user's bare JID such as alice@example.org", transports.ErrInvalidInput, clip(s))
	}
	return s, nil
}

// Assign gives user (a bare JID) number, or the first free number of the
// pool when number is "", in operator mode: a number another user has is
// refused (ErrConflict), one outside the pool must be the operator's
// (with Twilio, asked of the provider), and the user's previous number
// is released. It returns the number, normalised.
func (n *Network) Assign(ctx context.Context, user, number string) (string, error) {
	st := n.Hooks().Store
	if st == nil {
		return "", fmt.Errorf("%w: the network is not attached", transports.ErrUnavailable)
	}
	if n.cfg.Mode != ModeOperator {
		return "", fmt.Errorf("%w: numbers are assigned in operator mode only", transports.ErrUnsupported)
	}
	var num string
	if strings.TrimSpace(number) == "" {
		free, err := n.claimFree(ctx, st, user)
		if err != nil {
			return "", err
		}
		num = free
	} else {
		id, err := Normalize(number, n.cfg.DefaultCountry)
		if err != nil {
			return "", err
		}
		num = string(id)
		if !e164.MatchString(num) {
			return "", fmt.Errorf("%w: %s is a short code, not a number a user can have", transports.ErrInvalidInput, num)
		}
		if !slices.Contains(n.cfg.Numbers, num) && n.twilio != nil {
			if err := n.twilio.checkNumber(ctx, num); err != nil {
				return "", fmt.Errorf("%w: %s is not in the pool, and the provider says: %w", transports.ErrInvalidInput, num, err)
			}
		}
		if err := n.claim(ctx, st, user, num); err != nil {
			return "", err
		}
	}
	released := ""
	if old, err := st.Get(ctx, keyUser+user); err == nil && string(old) != num {
		if _, err := st.CompareAndSwap(ctx, keyNumber+string(old), []byte(user), nil); err != nil {
			return "", err
		}
		released = string(old)
	} else if err != nil && !errors.Is(err, transports.ErrNotFound) {
		return "", err
	}
	if err := st.Put(ctx, keyUser+user, []byte(num)); err != nil {
		return "", err
	}
	// Group texts go with their numbers (groupmove.go).
	if released != "" {
		by, err := n.moveGroups(ctx, released, "")
		if err != nil {
			return "", err
		}
		n.tellMoved(ctx, released, "", by)
	}
	by, err := n.moveGroups(ctx, num, user)
	if err != nil {
		return "", err
	}
	n.tellMoved(ctx, num, user, by)
	n.log.Info("number assigned", "user", user, "number", num)
	return num, nil
}

// claimFree claims the first free number of the pool for user, unless
// they have one of the pool already: then that one.
func (n *Network) claimFree(ctx context.Context, st transports.NetStore, user string) (string, error) {
	if num, err := st.Get(ctx, keyUser+user); err == nil && slices.Contains(n.cfg.Numbers, string(num)) {
		if owner, err := st.Get(ctx, keyNumber+string(num)); err == nil && string(owner) == user {
			return string(num), nil
		}
	}
	for _, num := range n.cfg.Numbers {
		ok, err := st.CompareAndSwap(ctx, keyNumber+num, nil, []byte(user))
		if err != nil {
			return "", err
		}
		if ok {
			return num, nil
		}
	}
	return "", fmt.Errorf("%w: no free number left in the pool", transports.ErrLimit)
}

// currentNumber is the number user sends from in operator mode: the one
// the store assigns them (an admin may have changed it since their
// session began), else from, the number of their registration.
func (n *Network) currentNumber(ctx context.Context, user, from string) (string, error) {
	if n.cfg.Mode != ModeOperator {
		return from, nil
	}
	st := n.Hooks().Store
	if st == nil {
		return from, nil
	}
	num, err := st.Get(ctx, keyUser+user)
	switch {
	case errors.Is(err, transports.ErrNotFound):
		return from, nil
	case err != nil:
		return "", &sendError{err: fmt.Errorf("%w: reading your number: %w", transports.ErrUnavailable, err), notSent: true}
	case !e164.MatchString(string(num)):
		return from, nil
	}
	return string(num), nil
}
