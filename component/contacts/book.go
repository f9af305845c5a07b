package contacts

import (
	"sync"

	"github.com/switchboard-im/switchboard/transports"
)

// MaxProfiles bounds the contacts a Book keeps, all users together; past
// it, an arbitrary entry is forgotten (its contact then shows no avatar
// hash until its next profile event, and answers probes as unavailable).
const MaxProfiles = 50000

// Book is what the gateway knows of each user's legacy contacts. It is a
// table across users (any goroutine, under its lock); pictures are not
// kept, only their hashes: a vCard request fetches the picture again. The
// zero Book is empty and ready.
type Book struct {
	mu sync.Mutex
	m  map[bookKey]*Profile
}

type bookKey struct {
	user    string
	contact transports.ID
}

// Profile is one contact as one user's session knows it.
type Profile struct {
	Name  string
	About string
	// Avatar is the picture the network named last; Hash is the
	// XEP-0153 hash of HashOf's picture ("" while not fetched, or for
	// none: then Hashed is true).
	Avatar *transports.Avatar
	Hash   string
	HashOf string
	Hashed bool
	// Presence is the contact's last presence, nil before any.
	Presence *transports.Presence
}

// Update changes the entry of (user, contact) with fn, creating it. fn
// runs under the book's lock: it must not call the book.
func (b *Book) Update(user string, contact transports.ID, fn func(p *Profile)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := bookKey{user, contact}
	p := b.m[k]
	if p == nil {
		if b.m == nil {
			b.m = make(map[bookKey]*Profile)
		}
		if len(b.m) >= MaxProfiles {
			for old := range b.m {
				delete(b.m, old)
				break
			}
		}
		p = &Profile{}
		b.m[k] = p
	}
	fn(p)
}

// Get returns a copy of the entry of (user, contact).
func (b *Book) Get(user string, contact transports.ID) (Profile, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.m[bookKey{user, contact}]
	if !ok {
		return Profile{}, false
	}
	return *p, true
}

// Forget drops everything of user's (unregistration).
func (b *Book) Forget(user string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.m {
		if k.user == user {
			delete(b.m, k)
		}
	}
}

// Len is the number of entries, all users together.
func (b *Book) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}
