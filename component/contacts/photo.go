package contacts

import "github.com/switchboard-im/switchboard/transports"

// AvatarHash is the XEP-0153 hash of contact's picture as user's
// profile book has it, the one the contact's presence carries: known is
// false while the book has none (no ProfileEvent hashed, no vCard
// answered), and hash "" with known true means no picture. Room
// occupants show the hash of the member behind them with it. It does no
// I/O, never fetches a picture; any goroutine.
func (d *Service) AvatarHash(user string, contact transports.ID) (hash string, known bool) {
	p, ok := d.book.Get(user, contact)
	if !ok || !p.Hashed {
		return "", false
	}
	return p.Hash, true
}
