package muc

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unique"

	"github.com/switchboard-im/switchboard/transports"
)

// Every user in a room keeps the room's occupants: N users of the gateway
// in one room of N members hold N lists of N occupants, and each list
// used to hold its own copy of every member (a map entry and an Occupant
// with its strings, about 150 bytes): 38 MB for 500 users in one IRC
// channel, most of the gateway's memory. The members are the same for
// every user of the room, so an occupant is interned instead
// (unique.Make): the process keeps one record per member and state,
// shared by every user's list, and dropped by the collector when no list
// holds it any more; a user's list is a slice of handles sorted by nick,
// 8 bytes per member. Interning needs no lock and no bookkeeping of
// ours, and each user's list still changes only with that user's own
// events, in that user's order, so what each user is shown is exactly
// what a list of its own would show.

// occupantRec is an Occupant in comparable form, to be interned: its
// hats are encoded in one string (encodeHats).
type occupantRec struct {
	nick, account, occupantID string
	role                      transports.Role
	affiliation               transports.Affiliation
	presence                  transports.Presence
	hats                      string
	photo                     photo // the picture hash last shown to this user
}

// occupantHandle is an interned occupantRec.
type occupantHandle = unique.Handle[occupantRec]

func intern(o *Occupant) occupantHandle {
	return unique.Make(occupantRec{nick: o.Nick, account: o.Account, occupantID: o.OccupantID,
		role: o.Role, affiliation: o.Affiliation, presence: o.Presence, hats: encodeHats(o.Hats), photo: o.photo})
}

// occupant returns the record as an Occupant of the caller's own (its
// Hats a fresh slice).
func (rec occupantRec) occupant() Occupant {
	return Occupant{Nick: rec.nick, Role: rec.role, Affiliation: rec.affiliation, Presence: rec.presence,
		Account: rec.account, OccupantID: rec.occupantID, Hats: decodeHats(rec.hats), photo: rec.photo}
}

// encodeHats writes hats as one string that decodeHats reads back: each
// hat's ID and title length-prefixed, then its hue's bits; "" for none.
func encodeHats(hats []transports.Hat) string {
	if len(hats) == 0 {
		return ""
	}
	var b strings.Builder
	for _, h := range hats {
		for _, s := range []string{h.ID, h.Title} {
			b.WriteString(strconv.Itoa(len(s)))
			b.WriteByte(':')
			b.WriteString(s)
		}
		hue := h.Hue
		if hue == 0 {
			hue = 0 // -0 too: the same hue
		}
		b.WriteString(strconv.FormatUint(math.Float64bits(hue), 16))
		b.WriteByte(';')
	}
	return b.String()
}

// decodeHats reads what encodeHats wrote; nil for "".
func decodeHats(s string) []transports.Hat {
	var hats []transports.Hat
	for s != "" {
		var h transports.Hat
		h.ID, s = cutPrefixed(s)
		h.Title, s = cutPrefixed(s)
		bits, rest, _ := strings.Cut(s, ";")
		u, _ := strconv.ParseUint(bits, 16, 64)
		h.Hue, s = math.Float64frombits(u), rest
		hats = append(hats, h)
	}
	return hats
}

// cutPrefixed cuts one length-prefixed string off the front of s.
func cutPrefixed(s string) (string, string) {
	n, rest, _ := strings.Cut(s, ":")
	l, _ := strconv.Atoi(n)
	l = min(max(l, 0), len(rest))
	return rest[:l], rest[l:]
}

// occupantList is a room's other occupants as one user's session sees
// them: interned records sorted by nick (byte order), one per nick.
type occupantList []occupantHandle

// find returns where nick is, or would be inserted, and whether it is
// there.
func (l occupantList) find(nick string) (int, bool) {
	return slices.BinarySearchFunc(l, nick, func(h occupantHandle, nick string) int {
		return strings.Compare(h.Value().nick, nick)
	})
}

// get returns the occupant called nick.
func (l occupantList) get(nick string) (Occupant, bool) {
	i, ok := l.find(nick)
	if !ok {
		return Occupant{}, false
	}
	return l[i].Value().occupant(), true
}

// shows reports whether the occupant called o.Nick is there and shows
// what o shows: the same but for the picture hash last shown, which
// records what was sent rather than what the member is.
func (l occupantList) shows(o *Occupant) bool {
	i, ok := l.find(o.Nick)
	if !ok {
		return false
	}
	rec := l[i].Value()
	rec.photo = o.photo
	return unique.Make(rec) == intern(o)
}

// setPhoto records ph as the picture hash last shown for the occupant
// called nick, if there is one.
func (l occupantList) setPhoto(nick string, ph photo) {
	if i, ok := l.find(nick); ok {
		rec := l[i].Value()
		rec.photo = ph
		l[i] = unique.Make(rec)
	}
}

// set records o, replacing the occupant with its nick.
func (l *occupantList) set(o *Occupant) {
	h := intern(o)
	i, ok := l.find(o.Nick)
	if ok {
		(*l)[i] = h
		return
	}
	if len(*l) == cap(*l) {
		// A list grows with the room, member by member: by an eighth,
		// not append's doubling, which left a quarter of every user's
		// list unused on average.
		grown := make(occupantList, len(*l), len(*l)+len(*l)/8+4)
		copy(grown, *l)
		*l = grown
	}
	*l = slices.Insert(*l, i, h)
}

// remove takes the occupant called nick out and returns it.
func (l *occupantList) remove(nick string) (Occupant, bool) {
	i, ok := l.find(nick)
	if !ok {
		return Occupant{}, false
	}
	o := (*l)[i].Value().occupant()
	*l = slices.Delete(*l, i, i+1)
	return o, true
}
