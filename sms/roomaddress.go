package sms

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/switchboard-im/switchboard/transports"
)

// Rooms have two kinds of address, both told from a number without I/O:
//
//   - a Twilio group text (a Conversation of Twilio's Conversations API):
//     its SID with a marker no number has, "CH0123…%group". The SID stays
//     the room's however its members change.
//   - a fan-out room (any provider): its members' E.164 numbers, sorted,
//     each once, joined with ",": "+15551111111,+15552222222". The members
//     are the address, so another set of people is another room; a text
//     in it goes to each member as a text of its own.

// groupMarker ends the localpart of a Twilio group's room.
const groupMarker = "%group"

// conversationSID is the form of a Twilio Conversation's SID (Twilio
// writes its hex digits in lower case).
var conversationSID = regexp.MustCompile(`^CH[0-9a-f]{32}$`)

// maxMembers is the most numbers a fan-out room has: each text in it
// costs as many texts, and Twilio's group texts take at most ten
// participants too.
const maxMembers = 10

// GroupRoom is the room of Twilio Conversation sid (CH…): in lower case,
// as a JID's localpart is (XMPP folds its case), so that the room the
// user joined and the one a webhook names are one.
func GroupRoom(sid string) transports.ID { return transports.ID(strings.ToLower(sid) + groupMarker) }

// canonicalSID is a Conversation SID as Twilio writes it: "CH" and
// lower-case hex digits (a JID brings it back in lower case). A sid not
// starting with "ch" in any case is returned as it is (and matches no
// conversationSID).
func canonicalSID(sid string) string {
	if len(sid) < 2 || !strings.EqualFold(sid[:2], "CH") {
		return sid
	}
	return "CH" + strings.ToLower(sid[2:])
}

// FanOutRoom is the fan-out room of members (E.164 numbers, in any
// order, repeats allowed): sorted and each once. An error wraps
// transports.ErrInvalidInput.
func FanOutRoom(members ...string) (transports.ID, error) {
	m := slices.Clone(members)
	slices.Sort(m)
	m = slices.Compact(m)
	id := transports.ID(strings.Join(m, ","))
	if _, err := fanOutMembers(string(id)); err != nil {
		return "", err
	}
	return id, nil
}

// Room is a room's address read: a Twilio group's SID or a fan-out
// room's members.
type Room struct {
	// Group is the Conversation SID of a Twilio group, as Twilio
	// writes it ("CH" and lower-case hex; "" for a fan-out room).
	Group string
	// Members are a fan-out room's numbers, sorted (nil for a group).
	Members []string
}

// ParseRoom reads id as a room's address. It does no I/O. An id that is
// no room, or one in another form than the one form of its room (members
// unsorted or repeated), is an error wrapping transports.ErrInvalidInput
// that says what is wrong.
func ParseRoom(id transports.ID) (Room, error) {
	s := string(id)
	if sid, ok := strings.CutSuffix(s, groupMarker); ok {
		if !conversationSID.MatchString(canonicalSID(sid)) || sid != strings.ToLower(sid) {
			return Room{}, fmt.Errorf("%w: %q is not a group text's ID (ch and 32 hex digits, in lower case)", transports.ErrInvalidInput, clip(sid))
		}
		return Room{Group: canonicalSID(sid)}, nil
	}
	m, err := fanOutMembers(s)
	if err != nil {
		return Room{}, err
	}
	return Room{Members: m}, nil
}

// fanOutMembers checks s as a fan-out room's address and returns its
// members.
func fanOutMembers(s string) ([]string, error) {
	if len(s) > maxMembers*16 {
		return nil, fmt.Errorf("%w: a group of texts has at most %d numbers", transports.ErrInvalidInput, maxMembers)
	}
	m := strings.Split(s, ",")
	switch {
	case len(m) < 2:
		return nil, fmt.Errorf("%w: a group of texts needs at least two numbers, joined with \",\"", transports.ErrInvalidInput)
	case len(m) > maxMembers:
		return nil, fmt.Errorf("%w: a group of texts has at most %d numbers", transports.ErrInvalidInput, maxMembers)
	}
	for i, n := range m {
		if !e164.MatchString(n) {
			return nil, fmt.Errorf("%w: %q in the group is not a phone number in international format", transports.ErrInvalidInput, clip(n))
		}
		if i > 0 && m[i-1] >= n {
			want := slices.Clone(m)
			slices.Sort(want)
			return nil, fmt.Errorf("%w: a group's numbers are written sorted and each once: %s",
				transports.ErrInvalidInput, strings.Join(slices.Compact(want), ","))
		}
	}
	return m, nil
}

// isRoomForm reports whether id is written as a room (a group marker or
// a list), valid or not.
func isRoomForm(id transports.ID) bool {
	return strings.Contains(string(id), ",") || strings.HasSuffix(string(id), groupMarker)
}

// Kind implements transports.Addresser: a room's address (ParseRoom) is
// KindRoom, a number or short code KindContact. It does no I/O.
func (n *Network) Kind(id transports.ID) (transports.IDKind, error) {
	if isRoomForm(id) {
		if _, err := ParseRoom(id); err != nil {
			return 0, err
		}
		return transports.KindRoom, nil
	}
	if !IsAddress(string(id)) {
		return 0, fmt.Errorf("%w: %q is not a phone number in international format", transports.ErrInvalidInput, clip(string(id)))
	}
	return transports.KindContact, nil
}

// nick is how number is shown in a room: in national format when its
// country code is the default country's ("(555) 123-4567"), else as it
// is.
func (n *Network) nick(number string) string {
	if n.cfg.DefaultCountry == "" {
		return number
	}
	num, err := phonenumbers.Parse(number, "")
	if err != nil || int(num.GetCountryCode()) != phonenumbers.GetCountryCodeForRegion(n.cfg.DefaultCountry) {
		return number
	}
	if nat := phonenumbers.Format(num, phonenumbers.NATIONAL); nat != "" {
		return nat
	}
	return number
}

// normalizeRoom reads a list of numbers as a user typed it ("(555)
// 123-4567, +44 20 7946 0000") as a fan-out room's address.
func normalizeRoom(input, region string) (transports.ID, error) {
	if len(input) > maxMembers*maxAddressInput {
		return "", fmt.Errorf("%w: a group of texts has at most %d numbers", transports.ErrInvalidInput, maxMembers)
	}
	var members []string
	for part := range strings.SplitSeq(input, ",") {
		num, err := Normalize(part, region)
		if err != nil {
			return "", err
		}
		members = append(members, string(num))
	}
	return FanOutRoom(members...)
}
