package transportstest

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// Profiles, contact lists, server lists and nick changes of the fake
// network: tests set what the "network" knows with SetProfile,
// SetContacts and SetServers, and its adapters answer Profile, Contacts
// and Servers from that (transports.Profiler, ContactLister,
// ServerLister). Nicker and OccupantContacter work on the fake rooms.
// Capabilities claim none of it until a test sets Caps.

// profileState is the network-wide state of this file, under Network.mu.
type profileState struct {
	profiles     map[transports.ID]transports.Profile
	contacts     []transports.Contact
	servers      []transports.ServerInfo
	profileCalls int
}

// SetProfile makes id's profile p, as Profile returns it. It delivers
// nothing: tests Emit a ProfileEvent when they want one.
func (n *Network) SetProfile(id transports.ID, p transports.Profile) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.prof.profiles == nil {
		n.prof.profiles = make(map[transports.ID]transports.Profile)
	}
	n.prof.profiles[id] = p
}

// ProfileCalls is how many times adapters of n answered Profile.
func (n *Network) ProfileCalls() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.prof.profileCalls
}

// SetContacts makes cs every user's contact list, as Contacts returns it.
func (n *Network) SetContacts(cs []transports.Contact) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.prof.contacts = slices.Clone(cs)
}

// SetServers makes ss every user's servers, as Servers returns them.
func (n *Network) SetServers(ss []transports.ServerInfo) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.prof.servers = slices.Clone(ss)
}

// Profile implements transports.Profiler: the profile SetProfile gave,
// else ErrNotFound.
func (a *Adapter) Profile(ctx context.Context, id transports.ID) (transports.Profile, error) {
	if a.Closed() {
		return transports.Profile{}, transports.ErrNotConnected
	}
	a.net.mu.Lock()
	defer a.net.mu.Unlock()
	a.net.prof.profileCalls++
	p, ok := a.net.prof.profiles[id]
	if !ok {
		return transports.Profile{}, fmt.Errorf("%w: %s", transports.ErrNotFound, id)
	}
	return p, nil
}

// Contacts implements transports.ContactLister.
func (a *Adapter) Contacts(ctx context.Context) ([]transports.Contact, error) {
	if a.Closed() {
		return nil, transports.ErrNotConnected
	}
	a.net.mu.Lock()
	defer a.net.mu.Unlock()
	return slices.Clone(a.net.prof.contacts), nil
}

// Watch implements transports.Watcher: it records the set (Watched) and
// delivers the presence SetProfile's profiles do not carry: each watched
// contact is available, except "gone", who is offline.
func (a *Adapter) Watch(ctx context.Context, ids []transports.ID) error {
	if a.Closed() {
		return transports.ErrNotConnected
	}
	a.mu.Lock()
	a.watched = append(a.watched, slices.Clone(ids))
	a.mu.Unlock()
	for _, id := range ids {
		show := transports.Available
		if id == "gone" {
			show = transports.Offline
		}
		a.sink.Deliver(&transports.PresenceEvent{From: id, Presence: transports.Presence{Show: show}})
	}
	return nil
}

// Watched returns the sets Watch was called with, in order.
func (a *Adapter) Watched() [][]transports.ID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.watched)
}

// Servers implements transports.ServerLister.
func (a *Adapter) Servers(ctx context.Context) ([]transports.ServerInfo, error) {
	if a.Closed() {
		return nil, transports.ErrNotConnected
	}
	a.net.mu.Lock()
	defer a.net.mu.Unlock()
	return slices.Clone(a.net.prof.servers), nil
}

// SetNick implements transports.Nicker on the fake rooms: a nick of a
// seeded occupant or "taken" is ErrConflict; otherwise the user's own
// OccupantEvent with NewNick is delivered.
func (a *Adapter) SetNick(ctx context.Context, room transports.ID, nick string) error {
	if a.Closed() {
		return transports.ErrNotConnected
	}
	if nick == "" || strings.ContainsAny(nick, " ,*?!@") {
		return fmt.Errorf("%w: %s: Erroneous nickname", transports.ErrInvalidInput, nick)
	}
	a.mu.Lock()
	fr, ok := a.roomsMap()[room]
	if !ok {
		a.mu.Unlock()
		return fmt.Errorf("%w: %s: not in that room", transports.ErrNotFound, room)
	}
	_, taken := fr.occupants[nick]
	if taken || nick == "taken" {
		a.mu.Unlock()
		return fmt.Errorf("%w: %s: Nickname is already in use", transports.ErrConflict, nick)
	}
	old := fr.nick
	fr.nick = nick
	role := fr.role
	a.mu.Unlock()
	a.sink.Deliver(&transports.OccupantEvent{Room: room, Nick: old, NewNick: nick, Self: true, Role: role})
	return nil
}

// OccupantContact implements transports.OccupantContacter for the fake
// rooms: an occupant with an OccupantID is that contact, else the nick is.
func (n *RoomNetwork) OccupantContact(room transports.ID, nick, occupantID string) (transports.ID, error) {
	if !strings.HasPrefix(string(room), "#") {
		return "", fmt.Errorf("%w: %s is not a room", transports.ErrNotFound, room)
	}
	if occupantID != "" {
		return transports.ID(occupantID), nil
	}
	if nick == "" {
		return "", fmt.Errorf("%w: no nick", transports.ErrNotFound)
	}
	return transports.ID(nick), nil
}
