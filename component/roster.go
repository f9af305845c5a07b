package component

import (
	"context"
	"slices"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/transports"
)

// The user's legacy contact list in their roster
// (transports.Capabilities.Contacts), the way transports without
// XEP-0356 privileges do it (XEP-0100 §5.2, as Spectrum 2 and slidge do
// without privileges): each contact new to the gateway asks the user for
// a subscription, with its name (XEP-0172), and the user's client shows
// the request; a contact gone from the list, which the gateway itself
// added, is taken out of the roster again (unsubscribe + unsubscribed).
// What the gateway added is kept in the user's hidden settings (syncedKey)
// beside what the user has in their roster (rosterKey), so a restart asks
// nothing twice and unregistering removes everything.

// syncedKey is the hidden setting listing the contacts' JIDs the gateway
// asked the user to add because they are in the legacy contact list.
const syncedKey = "_synced"

// contactsTimeout bounds the network's answer with the contact list.
const contactsTimeout = time.Minute

// syncContacts mirrors user's legacy contact list in their roster, once
// per session start. Lane work: it waits for the network and storage.
func (c *Component) syncContacts(ctx context.Context, user jid.JID) {
	lister, _ := c.sup.Adapter(user.String()).(transports.ContactLister)
	if lister == nil {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, contactsTimeout)
	list, err := lister.Contacts(lctx)
	cancel()
	if err != nil {
		c.log.Info("contact list not read", "user", user.String(), "err", err)
		return
	}
	if len(list) > transports.MaxContacts {
		c.log.Info("contact list cut", "user", user.String(), "contacts", len(list), "max", transports.MaxContacts)
		list = list[:transports.MaxContacts]
	}
	c.changeRoster(ctx, user, list, true)
}

// contactEvent mirrors one change of user's legacy contact list (owner
// work: the roster change, which does storage I/O, runs in the lane).
func (c *Component) contactEvent(user jid.JID, ev *transports.ContactEvent) {
	if !c.netCaps().Contacts {
		return
	}
	ct := ev.Contact
	if ev.Removed {
		c.later(user.String(), func(ctx context.Context) { c.dropContacts(ctx, user, []transports.ID{ct.ID}) })
		return
	}
	c.later(user.String(), func(ctx context.Context) { c.changeRoster(ctx, user, []transports.Contact{ct}, false) })
}

// changeRoster asks user to add each contact of list that the gateway has
// not asked for before and that is not in their roster already. With
// whole, list is the whole contact list: the contacts the gateway added
// that are no longer in it are taken out. Lane work.
func (c *Component) changeRoster(ctx context.Context, user jid.JID, list []transports.Contact, whole bool) {
	settings, err := c.reg.Settings(ctx, user.String(), c.net.Name())
	if err != nil {
		c.log.Warn("reading settings", "user", user.String(), "err", err)
		return
	}
	roster, synced := rosterOf(settings), listOf(settings, syncedKey)
	inList := make(map[string]bool, len(list))
	var ask []*stanza.Presence
	var push []rosterItem
	privileged := c.privs.canSetRoster(user.Domainpart())
	for _, ct := range list {
		j, err := c.legacyJID(ct.ID)
		if err != nil {
			continue
		}
		js := j.String()
		inList[js] = true
		c.profiles.update(user.String(), ct.ID, func(p *contactProfile) {
			if ct.Name != "" {
				p.name = ct.Name
			}
		})
		if slices.Contains(synced, js) || slices.Contains(roster, js) {
			continue
		}
		synced = append(synced, js)
		if privileged {
			push = append(push, rosterItem{JID: js, Name: rosterName(ct.Name), Subscription: "both", Groups: rosterGroups(ct.Groups)})
			continue
		}
		p := &stanza.Presence{Type: "subscribe", From: js, To: user.String()}
		if ct.Name != "" {
			p.Nick = &stanza.Nick{Nick: ct.Name}
		}
		ask = append(ask, p)
	}
	var gone []string
	if whole {
		synced = slices.DeleteFunc(synced, func(js string) bool {
			if inList[js] {
				return false
			}
			gone = append(gone, js)
			return true
		})
	}
	if len(ask) == 0 && len(push) == 0 && len(gone) == 0 {
		return
	}
	settings[syncedKey] = strings.Join(synced, "\n")
	settings[rosterKey] = strings.Join(slices.DeleteFunc(roster, func(js string) bool { return slices.Contains(gone, js) }), "\n")
	if err := c.reg.SetSettings(ctx, user.String(), c.net.Name(), settings); err != nil {
		// Nothing asked yet: the next session start tries again.
		c.log.Warn("storing roster", "user", user.String(), "err", err)
		return
	}
	for _, p := range ask {
		c.sendQuiet(ctx, p)
	}
	for _, item := range push {
		if err := c.setRosterItem(ctx, user.String(), item); err != nil {
			// The grant was withdrawn, or the server refused this one:
			// ask the user instead.
			c.log.Info("roster push refused; asking the user", "user", user.String(), "err", err)
			p := &stanza.Presence{Type: "subscribe", From: item.JID, To: user.String()}
			if item.Name != "" {
				p.Nick = &stanza.Nick{Nick: item.Name}
			}
			c.sendQuiet(ctx, p)
		}
	}
	for _, js := range gone {
		c.leaveRoster(ctx, user, js)
	}
}

// Bounds of what a legacy contact list puts in a roster item.
const (
	maxRosterName   = 200
	maxRosterGroups = 8
)

// rosterName is a contact's name as a roster item's: without control
// characters, cut to maxRosterName characters, "" for none.
func rosterName(name string) string {
	if strings.TrimSpace(name) == "" {
		return ""
	}
	return stanza.ShortName(name, maxRosterName)
}

// rosterGroups are a contact's groups as roster groups: non-empty, each
// cut to maxRosterName bytes, at most maxRosterGroups.
func rosterGroups(groups []string) []string {
	var out []string
	for _, g := range groups {
		if g = strings.TrimSpace(g); g != "" && len(out) < maxRosterGroups {
			out = append(out, stanza.ShortName(g, maxRosterName))
		}
	}
	return out
}

// dropContacts takes the contacts ids out of user's roster, if the
// gateway added them. Lane work.
func (c *Component) dropContacts(ctx context.Context, user jid.JID, ids []transports.ID) {
	settings, err := c.reg.Settings(ctx, user.String(), c.net.Name())
	if err != nil {
		c.log.Warn("reading settings", "user", user.String(), "err", err)
		return
	}
	synced, roster := listOf(settings, syncedKey), rosterOf(settings)
	var gone []string
	for _, id := range ids {
		j, err := c.legacyJID(id)
		if err != nil || !slices.Contains(synced, j.String()) {
			continue // the user added it themselves: theirs to remove
		}
		gone = append(gone, j.String())
	}
	if len(gone) == 0 {
		return
	}
	drop := func(js string) bool { return slices.Contains(gone, js) }
	settings[syncedKey] = strings.Join(slices.DeleteFunc(synced, drop), "\n")
	settings[rosterKey] = strings.Join(slices.DeleteFunc(roster, drop), "\n")
	if err := c.reg.SetSettings(ctx, user.String(), c.net.Name(), settings); err != nil {
		c.log.Warn("storing roster", "user", user.String(), "err", err)
		return
	}
	for _, js := range gone {
		c.leaveRoster(ctx, user, js)
	}
}

// leaveRoster takes the contact js out of user's roster: with the roster
// privilege directly, else as XEP-0100 §4.3 says.
func (c *Component) leaveRoster(ctx context.Context, user jid.JID, js string) {
	if c.privs.canSetRoster(user.Domainpart()) {
		err := c.setRosterItem(ctx, user.String(), rosterItem{JID: js, Subscription: "remove"})
		if err == nil {
			return
		}
		c.log.Info("roster removal refused; unsubscribing", "user", user.String(), "err", err)
	}
	for _, typ := range []string{"unavailable", "unsubscribe", "unsubscribed"} {
		c.sendQuiet(ctx, &stanza.Presence{Type: typ, From: js, To: user.String()})
	}
}

// listOf reads a hidden setting that lists JIDs, one per line.
func listOf(settings map[string]string, key string) []string {
	if settings[key] == "" {
		return nil
	}
	return strings.Split(settings[key], "\n")
}
