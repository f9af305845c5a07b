package direct

import (
	"slices"
	"sync"

	"github.com/switchboard-im/switchboard/transports"
)

// ReactionTargets bounds, per user, the one-to-one messages whose
// reactions are remembered; ReactionUsers bounds the users remembered
// (the longest-remembered user is forgotten first), so that the memory
// needs no forgetting at unregistration.
const (
	ReactionTargets = 500
	ReactionUsers   = 4096
)

// Reactions remembers reactions in one-to-one chats, since XEP-0444
// sends a reactor's whole set each time and the network adds and removes
// one at a time: the user's own (reactor "") and their contacts'. It is
// memory only, bounded; after a restart, or once forgotten, the first
// change of a set starts from nothing. The zero value is ready; safe for
// concurrent use.
type Reactions struct {
	mu    sync.Mutex
	m     map[string]*reactionBook // by user
	users []string                 // in the order their books were made
}

type reactionKey struct {
	conv    transports.ID
	target  transports.RemoteID
	reactor string
}

type reactionBook struct {
	sets  map[reactionKey][]string
	order []reactionKey
}

// Get returns reactor's set of reactions to message target of
// conversation conv, as user's book remembers it.
func (cr *Reactions) Get(user string, conv transports.ID, target transports.RemoteID, reactor string) []string {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if b := cr.m[user]; b != nil {
		return slices.Clone(b.sets[reactionKey{conv, target, reactor}])
	}
	return nil
}

// Set remembers reactor's whole set.
func (cr *Reactions) Set(user string, conv transports.ID, target transports.RemoteID, reactor string, set []string) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.setLocked(user, reactionKey{conv, target, reactor}, set)
}

func (cr *Reactions) setLocked(user string, k reactionKey, set []string) {
	if cr.m == nil {
		cr.m = make(map[string]*reactionBook)
	}
	b := cr.m[user]
	if b == nil {
		b = &reactionBook{sets: make(map[reactionKey][]string)}
		putOldestOut(cr.m, &cr.users, user, b, ReactionUsers)
	}
	putOldestOut(b.sets, &b.order, k, slices.Clone(set), ReactionTargets)
}

// React adds or removes one reaction of reactor's and returns reactor's
// whole set after it.
func (cr *Reactions) React(user string, conv transports.ID, target transports.RemoteID, reactor, reaction string, remove bool) []string {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	k := reactionKey{conv, target, reactor}
	var out []string
	if b := cr.m[user]; b != nil {
		for _, x := range b.sets[k] {
			if x != reaction {
				out = append(out, x)
			}
		}
	}
	if !remove {
		out = append(out, reaction)
	}
	cr.setLocked(user, k, out)
	return out
}
