// Package presence tracks the available resources of the users of a
// gateway, with their priorities, so that the gateway can mirror the best
// one on the legacy network and tell when a user went offline. It is
// bounded whatever the users' servers send.
package presence

import (
	"container/list"
	"sort"
	"sync"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/transports"
)

// State is what one resource's available presence says.
type State struct {
	Priority int
	Show     transports.Show
	Status   string
}

// Bounds of the tracker: whatever a user's server sends, the
// tracker holds at most MaxResources resources per user, statuses of at
// most MaxStatusBytes, and MaxUnregistered users who are not registered
// (the least recently seen are forgotten first; registered users are
// bounded by the registrations).
const (
	MaxResources    = 32
	MaxStatusBytes  = 1 << 10
	MaxUnregistered = 10000
)

// Tracker knows, for every user, which resources are available and with
// what priority. It is safe for use by several goroutines: the component
// asks it from every user's work and for its statistics.
type Tracker struct {
	mu    sync.Mutex
	users map[string]*trackedUser // by bare JID
	// anon lists the unregistered users, most recently seen first.
	anon *list.List
	// maxAnon is MaxUnregistered (smaller in tests).
	maxAnon int
}

type trackedUser struct {
	res  map[string]State
	elem *list.Element // in anon while the user is not registered
}

// New returns an empty tracker.
func New() *Tracker {
	return &Tracker{users: make(map[string]*trackedUser), anon: list.New(), maxAnon: MaxUnregistered}
}

// Available records a resource of user; registered says whether user is
// registered. It reports whether it is the user's first, and false for ok
// when the resource is not tracked because the user has MaxResources
// already.
func (p *Tracker) Available(user, res string, r State, registered bool) (first, ok bool) {
	r.Status = stanza.CutUTF8(r.Status, MaxStatusBytes)
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.users[user]
	if u == nil {
		u = &trackedUser{res: make(map[string]State)}
		p.users[user] = u
	}
	switch {
	case registered && u.elem != nil:
		p.anon.Remove(u.elem)
		u.elem = nil
	case !registered && u.elem == nil:
		u.elem = p.anon.PushFront(user)
	case !registered:
		p.anon.MoveToFront(u.elem)
	}
	for p.anon.Len() > p.maxAnon {
		old := p.anon.Remove(p.anon.Back()).(string)
		delete(p.users, old)
	}
	first = len(u.res) == 0
	if _, had := u.res[res]; !had && len(u.res) >= MaxResources {
		return false, false
	}
	u.res[res] = r
	return first, true
}

// Unavailable forgets a resource; it reports whether it was the user's
// last.
func (p *Tracker) Unavailable(user, res string) (last bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.users[user]
	if u == nil {
		return false
	}
	delete(u.res, res)
	if len(u.res) == 0 {
		p.drop(user, u)
		return true
	}
	return false
}

// drop forgets user; p.mu is held.
func (p *Tracker) drop(user string, u *trackedUser) {
	if u.elem != nil {
		p.anon.Remove(u.elem)
	}
	delete(p.users, user)
}

// resourcesOf returns user's resources; p.mu is held.
func (p *Tracker) resourcesOf(user string) map[string]State {
	if u := p.users[user]; u != nil {
		return u.res
	}
	return nil
}

// Online reports whether user has an available resource.
func (p *Tracker) Online(user string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.resourcesOf(user)) > 0
}

// Resource is one available resource of a user, as the admin and status
// commands report it.
type Resource struct {
	Name     string
	Priority int
	Show     string
}

// List returns user's resources, highest priority first.
func (p *Tracker) List(user string) []Resource {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Resource, 0, len(p.resourcesOf(user)))
	for name, r := range p.resourcesOf(user) {
		out = append(out, Resource{Name: name, Priority: r.Priority, Show: r.Show.String()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority > out[j].Priority
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Best returns the presence of the user's highest-priority resource.
func (p *Tracker) Best(user string) (transports.Presence, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best State
	var name string
	found := false
	for n, r := range p.resourcesOf(user) {
		if !found || r.Priority > best.Priority || r.Priority == best.Priority && n < name {
			best, name, found = r, n, true
		}
	}
	return transports.Presence{Show: best.Show, Status: best.Status}, found
}

// Users returns how many users have an available resource.
func (p *Tracker) Users() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.users)
}

// Reset forgets everyone: the XMPP stream went down, and with it every
// presence.
func (p *Tracker) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users = make(map[string]*trackedUser)
	p.anon.Init()
}

// Forget forgets user.
func (p *Tracker) Forget(user string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u := p.users[user]; u != nil {
		p.drop(user, u)
	}
}

// ParseShow reads a presence's <show/>: anything unknown is available.
func ParseShow(s string) transports.Show {
	switch s {
	case "away":
		return transports.Away
	case "xa":
		return transports.ExtendedAway
	case "dnd":
		return transports.DoNotDisturb
	case "chat":
		return transports.FreeForChat
	}
	return transports.Available
}
