package component

import (
	"errors"
	"fmt"

	"github.com/switchboard-im/switchboard/component/stanza"
)

// Stanza sizes. The XMPP server closes a component stream on a stanza over
// its limit (Prosody: 512 KiB), which would take every user's stanzas down
// with it; and a stanza read from the stream is held in memory whole. So
// both directions are bounded by Config.MaxStanzaBytes.

// defaultMaxStanzaBytes is Config.MaxStanzaBytes when it is 0.
const defaultMaxStanzaBytes = 256 << 10

// maxFieldBytes bounds each short field of a stanza the component writes:
// subject, thread, nick, status, a link's description.
const maxFieldBytes = 1 << 10

// maxLinks bounds the out-of-band links (XEP-0066) of one message; the
// ones beyond are named in the body rather than inlined.
const maxLinks = 20

// hardReadFactor times the stanza limit is what one element may make the
// component read from the wire before the stream is given up: an element
// over the limit is skipped token by token, but one token (a comment, a
// text node) is held whole by the XML decoder, so this bounds memory.
const hardReadFactor = 8

// errStanzaTooLarge is returned for a stanza that cannot be made to fit
// the limit; it is never written.
var errStanzaTooLarge = errors.New("stanza larger than the limit")

// maxStanza is the stanza size limit in bytes.
func (c *Component) maxStanza() int {
	if c.cfg.MaxStanzaBytes > 0 {
		return c.cfg.MaxStanzaBytes
	}
	return defaultMaxStanzaBytes
}

// fitTarget is the size the component aims below when it cuts a stanza.
// The margin was for mellium's re-encoding of the marshalled bytes, which
// could add a few namespace declarations; the bytes are now written as
// they are (writeStanza), and the margin is kept so that messages are cut
// where they were.
func fitTarget(max int) int {
	return max - max/8
}

// marshalFit caps v's fields (see fit) and marshals it, with an id if it
// had none (missingID). It fails, without writing anything, when the
// stanza is still over max: a payload the component cannot cut.
//
// The id is taken away again afterwards, so the caller's value is left as
// it was and a value written twice gets two ids, as mellium gave them.
func marshalFit(v any, max int) ([]byte, error) {
	if id := missingID(v); id != nil {
		*id = newID()
		defer func() { *id = "" }()
	}
	b := fit(v, fitTarget(max))
	if len(b) > max {
		return nil, fmt.Errorf("%w: %T of %d bytes (limit %d)", errStanzaTooLarge, v, len(b), max)
	}
	return b, nil
}

// fit cuts the fields of a stanza the component built so that its
// serialisation stays within target bytes, and returns that
// serialisation. Short fields are cut to maxFieldBytes each, links beyond
// maxLinks are counted in the body, and a message body is cut on a UTF-8
// boundary with a visible note saying how long it was. Stanzas of other
// types are marshalled as they are.
func fit(v any, target int) []byte {
	switch s := v.(type) {
	case *stanza.Message:
		s.Subject = cutField(s.Subject)
		s.Thread = cutField(s.Thread)
		if s.Nick != nil {
			s.Nick.Nick = cutField(s.Nick.Nick)
		}
		s.Extra = fitExtra(s.Extra, &s.Body)
		b := mustMarshal(s)
		if len(b) <= target || s.Body == "" {
			return b
		}
		return fitBody(s, len(b), target)
	case *stanza.Presence:
		s.Status = cutField(s.Status)
		if s.Nick != nil {
			s.Nick.Nick = cutField(s.Nick.Nick)
		}
		s.Extra = fitExtra(s.Extra, nil)
		return mustMarshal(s)
	}
	return mustMarshal(v)
}

// fitBody cuts m's body until m marshals within target (size is its size
// now). The first cut is in proportion to what escaping made of the body;
// a second one, by the remaining overflow, is enough when the text kept
// escapes worse than the average.
func fitBody(m *stanza.Message, size, target int) []byte {
	body := m.Body
	note := fmt.Sprintf("\n[message cut: %d KiB]", (len(body)+1023)/1024)
	m.Body = note
	base := len(mustMarshal(m))
	escaped := size - base + len(note)
	keep := 0
	if room := target - base; room > 0 && escaped > 0 {
		keep = int(int64(len(body)) * int64(room) / int64(escaped))
	}
	for range 4 {
		if keep <= 0 {
			break
		}
		m.Body = stanza.CutUTF8(body, keep) + note
		b := mustMarshal(m)
		if len(b) <= target {
			return b
		}
		keep -= len(b) - target
	}
	m.Body = note[1:]
	return mustMarshal(m)
}

// fitExtra caps the known extension elements of a stanza: links beyond
// maxLinks are dropped and, when body is not nil, counted in it; long
// descriptions and subjects are cut.
func fitExtra(extra []any, body *string) []any {
	links := 0
	out := extra[:0:0]
	for _, x := range extra {
		switch e := x.(type) {
		case *stanza.OOB:
			links++
			if links > maxLinks || len(e.URL) > maxFieldBytes {
				continue
			}
			e.Desc = cutField(e.Desc)
		case *stanza.Subject:
			e.Text = cutField(e.Text)
		}
		out = append(out, x)
	}
	if links > maxLinks && body != nil {
		*body += fmt.Sprintf("\n[%d more links not shown]", links-maxLinks)
	}
	return out
}

// sizeText says n bytes in KiB, or in bytes below 1 KiB.
func sizeText(n int) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// cutField cuts s to maxFieldBytes, marking the cut with an ellipsis.
func cutField(s string) string {
	if len(s) <= maxFieldBytes {
		return s
	}
	return stanza.CutUTF8(s, maxFieldBytes-len("…")) + "…"
}
