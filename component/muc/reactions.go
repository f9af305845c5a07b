package muc

import (
	"github.com/switchboard-im/switchboard/internal/bounded"
	"github.com/switchboard-im/switchboard/transports"
)

// ReactionTargets bounds the messages whose reactions a room remembers.
const ReactionTargets = 500

// reactions remembers, for the latest ReactionTargets messages of a room,
// who reacted with what, since XEP-0444 sends a reactor's whole set each
// time.
type reactions struct {
	m *bounded.Map[transports.RemoteID, map[string][]string] // target → nick → reactions; nil until the first set
}

func (rc *reactions) get(target transports.RemoteID, nick string) []string {
	if rc.m == nil {
		return nil
	}
	byNick, _ := rc.m.Get(target)
	return byNick[nick]
}

func (rc *reactions) set(target transports.RemoteID, nick string, set []string) {
	if rc.m == nil {
		rc.m = bounded.New[transports.RemoteID, map[string][]string](ReactionTargets)
	}
	byNick, ok := rc.m.Get(target)
	if !ok {
		byNick = make(map[string][]string)
		rc.m.Put(target, byNick)
	}
	byNick[nick] = set
}

// Reactions returns nick's reactions to the message target, as last set;
// the caller must not change the slice.
func (r *Room) Reactions(target transports.RemoteID, nick string) []string {
	return r.reactions.get(target, nick)
}

// SetReactions replaces nick's reactions to target (the user's own, after
// the network took them).
func (r *Room) SetReactions(target transports.RemoteID, nick string, set []string) {
	r.reactions.set(target, nick, set)
}

// React adds or removes one of nick's reactions to target and returns
// nick's whole set after it, which XEP-0444 sends.
func (r *Room) React(target transports.RemoteID, nick, reaction string, remove bool) []string {
	var out []string
	for _, x := range r.reactions.get(target, nick) {
		if x != reaction {
			out = append(out, x)
		}
	}
	if !remove {
		out = append(out, reaction)
	}
	r.reactions.set(target, nick, out)
	return out
}
