package direct

import (
	"slices"
	"sync"

	"github.com/switchboard-im/switchboard/internal/bounded"
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
	mu sync.Mutex
	m  *bounded.Map[string, *reactionBook] // by user; nil until the first Set
}

type reactionKey struct {
	conv    transports.ID
	target  transports.RemoteID
	reactor string
}

type reactionBook struct {
	sets *bounded.Map[reactionKey, []string]
}

// book is user's reaction book, if there is one.
func (cr *Reactions) book(user string) *reactionBook {
	if cr.m == nil {
		return nil
	}
	b, _ := cr.m.Get(user)
	return b
}

// Get returns reactor's set of reactions to message target of
// conversation conv, as user's book remembers it.
func (cr *Reactions) Get(user string, conv transports.ID, target transports.RemoteID, reactor string) []string {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if b := cr.book(user); b != nil {
		set, _ := b.sets.Get(reactionKey{conv, target, reactor})
		return slices.Clone(set)
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
		cr.m = bounded.New[string, *reactionBook](ReactionUsers)
	}
	b := cr.book(user)
	if b == nil {
		b = &reactionBook{sets: bounded.New[reactionKey, []string](ReactionTargets)}
		cr.m.Put(user, b)
	}
	b.sets.Put(k, slices.Clone(set))
}

// React adds or removes one reaction of reactor's and returns reactor's
// whole set after it.
func (cr *Reactions) React(user string, conv transports.ID, target transports.RemoteID, reactor, reaction string, remove bool) []string {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	k := reactionKey{conv, target, reactor}
	var out []string
	if b := cr.book(user); b != nil {
		set, _ := b.sets.Get(k)
		for _, x := range set {
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
