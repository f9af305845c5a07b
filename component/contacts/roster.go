package contacts

import (
	"context"
	"encoding/xml"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
// With the server's roster grant the contacts are pushed into the roster
// instead, and taken out the same way. What the gateway added is kept in
// the user's hidden settings (SyncedKey) beside what the user has in
// their roster (RosterKey), so a restart asks nothing twice and
// unregistering removes everything.

// Hidden settings: RosterKey lists the legacy contacts' JIDs the user
// subscribed to, SyncedKey those the gateway asked the user to add (or
// added) because they are in the legacy contact list; one JID a line.
const (
	RosterKey = "_roster"
	SyncedKey = "_synced"
)

// Roster returns the JIDs of settings' RosterKey.
func Roster(settings map[string]string) []string { return listOf(settings, RosterKey) }

// InRoster returns every legacy contact's JID the user's roster holds
// through the gateway: those they subscribed to and those the gateway
// added, each once; unregistering takes them all out.
func InRoster(settings map[string]string) []string {
	roster := Roster(settings)
	for _, js := range listOf(settings, SyncedKey) {
		if !slices.Contains(roster, js) {
			roster = append(roster, js)
		}
	}
	return roster
}

// listOf reads a hidden setting that lists JIDs, one per line.
func listOf(settings map[string]string, key string) []string {
	if settings[key] == "" {
		return nil
	}
	return strings.Split(settings[key], "\n")
}

// contactsTimeout bounds the network's answer with the contact list.
const contactsTimeout = time.Minute

// Bounds of what a legacy contact list puts in a roster item.
const (
	maxRosterName   = 200
	maxRosterGroups = 8
)

// rosterQuery is a roster set (RFC 6121 §2.3) the gateway sends with the
// roster privilege: one item, added, changed or (subscription "remove")
// removed.
type rosterQuery struct {
	XMLName xml.Name   `xml:"jabber:iq:roster query"`
	Item    rosterItem `xml:"item"`
}

type rosterItem struct {
	JID          string   `xml:"jid,attr"`
	Name         string   `xml:"name,attr,omitempty"`
	Subscription string   `xml:"subscription,attr"`
	Groups       []string `xml:"group,omitempty"`
}

// itemOf is the roster item the gateway pushes for the contact ct of
// address js: named and grouped as the network says, within bounds,
// subscribed both ways.
func itemOf(js string, ct transports.Contact) rosterItem {
	return rosterItem{JID: js, Name: cleanName(ct.Name, maxRosterName), Subscription: "both", Groups: rosterGroups(ct.Groups)}
}

// rosterGroups are a contact's groups as roster groups: non-empty, each
// cut to maxRosterName characters, at most maxRosterGroups.
func rosterGroups(groups []string) []string {
	var out []string
	for _, g := range groups {
		if g = cleanName(g, maxRosterName); g != "" && len(out) < maxRosterGroups {
			out = append(out, g)
		}
	}
	return out
}

// cleanName is a name fit for a roster (stanza.ShortName: no control or
// format characters, no surrounding space, at most max characters), ""
// when nothing would be left, rather than ShortName's file placeholder.
func cleanName(name string, max int) string {
	if strings.TrimFunc(name, unprintable) == "" {
		return ""
	}
	return stanza.ShortName(name, max)
}

// unprintable reports whether stanza.ShortName drops r, or trims it.
func unprintable(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError
}

// subscribe is the subscription request from the contact js to user,
// with the contact's name (XEP-0172) when it has one.
func subscribe(js, user, name string) *stanza.Presence {
	p := &stanza.Presence{Type: "subscribe", From: js, To: user}
	if name != "" {
		p.Nick = &stanza.Nick{Nick: name}
	}
	return p
}

// listed is a contact of a legacy contact list with its JID.
type listed struct {
	jid     string
	contact transports.Contact
}

// rosterPlan is what a contact list changes in a user's roster.
type rosterPlan struct {
	ask  []*stanza.Presence // subscription requests to send
	push []rosterItem       // items to push with the roster privilege
	gone []string           // contacts to take out of the roster
	// synced and roster are the hidden settings after the change.
	synced, roster []string
}

func (p rosterPlan) empty() bool { return len(p.ask) == 0 && len(p.push) == 0 && len(p.gone) == 0 }

// planRoster is what list changes in user's roster, given what the
// user has in it (roster) and what the gateway added before (synced):
// each contact neither added before nor there already is asked for, or
// pushed when privileged; with whole, list is the whole contact list, and
// the contacts the gateway added that it no longer has go.
func planRoster(user string, roster, synced []string, list []listed, whole, privileged bool) rosterPlan {
	var p rosterPlan
	inList := make(map[string]bool, len(list))
	for _, l := range list {
		inList[l.jid] = true
		if slices.Contains(synced, l.jid) || slices.Contains(roster, l.jid) {
			continue
		}
		synced = append(synced, l.jid)
		if privileged {
			p.push = append(p.push, itemOf(l.jid, l.contact))
			continue
		}
		p.ask = append(p.ask, subscribe(l.jid, user, l.contact.Name))
	}
	if whole {
		synced = slices.DeleteFunc(synced, func(js string) bool {
			if inList[js] {
				return false
			}
			p.gone = append(p.gone, js)
			return true
		})
	}
	p.synced = synced
	p.roster = slices.DeleteFunc(roster, func(js string) bool { return slices.Contains(p.gone, js) })
	return p
}

// Sync mirrors user's legacy contact list in their roster, once per
// session start. Lane work: it waits for the network and storage.
func (d *Service) Sync(ctx context.Context, user jid.JID) {
	log := d.core.Logger()
	lister, _ := d.core.Adapter(user.String()).(transports.ContactLister)
	if lister == nil {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, contactsTimeout)
	list, err := lister.Contacts(lctx)
	cancel()
	if err != nil {
		log.Info("contact list not read", "user", user.String(), "err", err)
		return
	}
	if len(list) > transports.MaxContacts {
		log.Info("contact list cut", "user", user.String(), "contacts", len(list), "max", transports.MaxContacts)
		list = list[:transports.MaxContacts]
	}
	d.changeRoster(ctx, user, list, true)
}

// ContactEvent mirrors one change of user's legacy contact list. Owner
// work: it returns at once; the roster change, which does storage I/O,
// runs in the lane.
func (d *Service) ContactEvent(user jid.JID, ev *transports.ContactEvent) {
	if !d.core.Capabilities().Contacts {
		return
	}
	ct := ev.Contact
	if ev.Removed {
		d.core.Later(user.String(), func(ctx context.Context) { d.dropContacts(ctx, user, []transports.ID{ct.ID}) })
		return
	}
	d.core.Later(user.String(), func(ctx context.Context) { d.changeRoster(ctx, user, []transports.Contact{ct}, false) })
}

// changeRoster asks user to add each contact of list that the gateway has
// not asked for before and that is not in their roster already (or
// pushes it, with the roster privilege). With whole, list is the whole
// contact list: the contacts the gateway added that are no longer in it
// are taken out. Lane work.
func (d *Service) changeRoster(ctx context.Context, user jid.JID, list []transports.Contact, whole bool) {
	c, log, u := d.core, d.core.Logger(), user.String()
	settings, err := c.Settings(ctx, u)
	if err != nil {
		log.Warn("reading settings", "user", u, "err", err)
		return
	}
	named := make([]listed, 0, len(list))
	for _, ct := range list {
		j, err := c.LegacyJID(ct.ID)
		if err != nil {
			continue
		}
		d.book.Update(u, ct.ID, func(p *Profile) {
			if ct.Name != "" {
				p.Name = ct.Name
			}
		})
		named = append(named, listed{j.String(), ct})
	}
	p := planRoster(u, Roster(settings), listOf(settings, SyncedKey), named, whole, d.privs.Of(user.Domainpart()).CanSetRoster())
	if p.empty() {
		return
	}
	settings[SyncedKey] = strings.Join(p.synced, "\n")
	settings[RosterKey] = strings.Join(p.roster, "\n")
	if err := c.SetSettings(ctx, u, settings); err != nil {
		// Nothing asked yet: the next session start tries again.
		log.Warn("storing roster", "user", u, "err", err)
		return
	}
	for _, pr := range p.ask {
		c.SendQuiet(ctx, pr)
	}
	for _, item := range p.push {
		if err := c.SetRoster(ctx, u, &rosterQuery{Item: item}); err != nil {
			// The grant was withdrawn, or the server refused this one:
			// ask the user instead.
			log.Info("roster push refused; asking the user", "user", u, "err", err)
			c.SendQuiet(ctx, subscribe(item.JID, u, item.Name))
		}
	}
	for _, js := range p.gone {
		d.leaveRoster(ctx, user, js)
	}
}

// dropContacts takes the contacts ids out of user's roster, if the
// gateway added them. Lane work.
func (d *Service) dropContacts(ctx context.Context, user jid.JID, ids []transports.ID) {
	c, log, u := d.core, d.core.Logger(), user.String()
	settings, err := c.Settings(ctx, u)
	if err != nil {
		log.Warn("reading settings", "user", u, "err", err)
		return
	}
	synced, roster := listOf(settings, SyncedKey), Roster(settings)
	var gone []string
	for _, id := range ids {
		j, err := c.LegacyJID(id)
		if err != nil || !slices.Contains(synced, j.String()) {
			continue // the user added it themselves: theirs to remove
		}
		gone = append(gone, j.String())
	}
	if len(gone) == 0 {
		return
	}
	drop := func(js string) bool { return slices.Contains(gone, js) }
	settings[SyncedKey] = strings.Join(slices.DeleteFunc(synced, drop), "\n")
	settings[RosterKey] = strings.Join(slices.DeleteFunc(roster, drop), "\n")
	if err := c.SetSettings(ctx, u, settings); err != nil {
		log.Warn("storing roster", "user", u, "err", err)
		return
	}
	for _, js := range gone {
		d.leaveRoster(ctx, user, js)
	}
}

// leaveRoster takes the contact js out of user's roster: with the roster
// privilege directly, else as XEP-0100 §4.3 says.
func (d *Service) leaveRoster(ctx context.Context, user jid.JID, js string) {
	c, u := d.core, user.String()
	if d.privs.Of(user.Domainpart()).CanSetRoster() {
		err := c.SetRoster(ctx, u, &rosterQuery{Item: rosterItem{JID: js, Subscription: "remove"}})
		if err == nil {
			return
		}
		c.Logger().Info("roster removal refused; unsubscribing", "user", u, "err", err)
	}
	for _, typ := range []string{"unavailable", "unsubscribe", "unsubscribed"} {
		c.SendQuiet(ctx, &stanza.Presence{Type: typ, From: js, To: u})
	}
}
