package component

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// The network's say in registration (transports.Registrar) and in the
// addresses users type (transports.Normalizer). Registration's three
// doors (XEP-0077, the ad-hoc command, chat) all end in register and
// unregister (register.go), which call amend and release.

// amend lets a Registrar amend the validated credentials before they are
// stored (assign a number); without one they are stored as they are.
// Lane work: it may wait for the network.
func (c *Component) amend(ctx context.Context, user jid.JID, creds transports.Credentials) (transports.Credentials, error) {
	r, ok := c.net.(transports.Registrar)
	if !ok {
		return creds, nil
	}
	rctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	amended, err := r.Register(rctx, user.String(), creds)
	if err != nil {
		return nil, err
	}
	if amended == nil {
		return creds, nil
	}
	return amended, nil
}

// release tells a Registrar that user's registration with creds is gone,
// so it may release what it assigned. Errors are logged: the registration
// is gone either way (see transports.Registrar).
func (c *Component) release(ctx context.Context, user jid.JID, creds transports.Credentials) {
	r, ok := c.net.(transports.Registrar)
	if !ok {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	if err := r.Unregister(rctx, user.String(), creds); err != nil {
		c.log.Warn("the network could not release what it assigned", "user", user.String(), "err", err)
	}
}

// normalizeAddress turns what a user typed into the XEP-0100 prompt into
// a legacy ID: the network's Normalizer where it has one, else the text
// trimmed. The error is jid-malformed with the network's reason.
func (c *Component) normalizeAddress(prompt string) (transports.ID, *stanzaError) {
	n, ok := c.net.(transports.Normalizer)
	if !ok {
		return normalizeID(prompt), nil
	}
	id, err := n.NormalizeAddress(prompt)
	if err == nil && id == "" {
		err = errors.New("empty address")
	}
	if err != nil {
		return "", errorf("modify", "jid-malformed", "%q is not a %s address: %s", prompt, c.net.Identity().Name, stanzaerr.Detail(err.Error()))
	}
	return id, nil
}
