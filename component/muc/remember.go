package muc

import (
	"context"
	"maps"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/transports"
)

// Bouncer rooms: a registered user who stays connected while offline
// stays in their legacy rooms, so highlights reach them as offline
// messages. The rooms they are in are remembered in a hidden setting, so a
// restart of Switchboard (or a new legacy session) joins them again
// before the user's client comes back.

// RoomsKey is the hidden setting listing a user's rooms ("id\tnick"
// lines).
const RoomsKey = "_rooms"

// RememberRoom records that registered user is in room as nick. It reads
// and writes the user's settings (storage I/O): call it from the user's
// lane, never from owner work. A storage error is logged; nobody retries
// (the next join or leave writes the list again). It reports whether the
// room was not remembered before.
func (s *Service) RememberRoom(ctx context.Context, user jid.JID, room transports.ID, nick string) (added bool) {
	s.editRooms(ctx, user, func(rooms map[transports.ID]string) {
		_, had := rooms[room]
		added = !had
		rooms[room] = nick
	})
	return added
}

// ForgetRoom records that user left room for good; like RememberRoom, in
// the user's lane.
func (s *Service) ForgetRoom(ctx context.Context, user jid.JID, room transports.ID) {
	s.editRooms(ctx, user, func(rooms map[transports.ID]string) { delete(rooms, room) })
}

func (s *Service) editRooms(ctx context.Context, user jid.JID, edit func(map[transports.ID]string)) {
	u := user.String()
	settings, err := s.core.Settings(ctx, u)
	if err != nil {
		s.core.Logger().Warn("reading settings", "user", u, "err", err)
		return
	}
	rooms := RememberedRooms(settings)
	before := maps.Clone(rooms)
	edit(rooms)
	if maps.Equal(before, rooms) {
		return // a rejoin: nothing to write
	}
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(rooms)) {
		b.WriteString(string(id) + "\t" + rooms[id] + "\n")
	}
	settings[RoomsKey] = b.String()
	if err := s.core.SetSettings(ctx, u, settings); err != nil {
		s.core.Logger().Warn("storing rooms", "user", u, "err", err)
	}
}

// RememberedRooms returns the rooms remembered in a user's settings, with
// the nick of each; lines that are not "id\tnick" are skipped.
func RememberedRooms(settings map[string]string) map[transports.ID]string {
	rooms := make(map[transports.ID]string)
	for _, line := range strings.Split(settings[RoomsKey], "\n") {
		id, nick, ok := strings.Cut(line, "\t")
		if ok && id != "" && nick != "" {
			rooms[transports.ID(id)] = nick
		}
	}
	return rooms
}
