package muc

import (
	"strconv"
	"time"

	"github.com/switchboard-im/switchboard/internal/xmltree"
)

const (
	// DefaultHistory is the number of history messages sent on join when
	// the client does not say; MaxHistory is the most ever fetched.
	DefaultHistory = 20
	MaxHistory     = 100
)

// History is a join's <history/> request (XEP-0045 §7.2.13). The zero
// value is not "none given": use NoHistory or ParseHistory.
type History struct {
	Given                         bool // a <history/> element was sent
	MaxStanzas, MaxChars, Seconds int  // -1: not given
	Since                         time.Time
}

// NoHistory is the request of a join that sent no <history/>.
var NoHistory = History{MaxStanzas: -1, MaxChars: -1, Seconds: -1}

// ParseHistory reads the <history/> child of a join's <x xmlns='…/muc'/>
// (x may be nil). Values that are not numbers, negative, or not RFC 3339
// times count as not given.
func ParseHistory(x *xmltree.Element) History {
	h := NoHistory
	el := x.Child("", "history")
	if el == nil {
		return h
	}
	h.Given = true
	num := func(name string) int {
		if v := el.Attr(name); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return n
			}
		}
		return -1
	}
	h.MaxStanzas, h.MaxChars, h.Seconds = num("maxstanzas"), num("maxchars"), num("seconds")
	if v := el.Attr("since"); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			h.Since = t
		}
	}
	return h
}

// Params turns the request into transports.History arguments at time now:
// the earliest time (zero: any) and the most messages. ok is false when
// no history is wanted (maxstanzas or maxchars zero).
func (h History) Params(now time.Time) (since time.Time, max int, ok bool) {
	if h.MaxStanzas == 0 || h.MaxChars == 0 {
		return time.Time{}, 0, false
	}
	max = DefaultHistory
	if h.Given && (h.Seconds >= 0 || !h.Since.IsZero()) {
		max = MaxHistory
	}
	if h.MaxStanzas > 0 {
		max = min(h.MaxStanzas, MaxHistory)
	}
	since = h.Since
	if h.Seconds >= 0 {
		if s := now.Add(-time.Duration(h.Seconds) * time.Second); s.After(since) {
			since = s
		}
	}
	return since, max, true
}

// TrimChars drops the oldest stanzas until the rest fit in max characters
// of XML (XEP-0045 maxchars); size gives a stanza's length as written.
// stanzas are oldest first; the result shares their backing array.
func TrimChars[S any](stanzas []S, max int, size func(S) int) []S {
	total := 0
	for i := len(stanzas) - 1; i >= 0; i-- {
		total += size(stanzas[i])
		if total > max {
			return stanzas[i+1:]
		}
	}
	return stanzas
}
