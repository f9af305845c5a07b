package stanzaerr

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

func TestFromLegacy(t *testing.T) {
	inUse := fmt.Errorf("%w: ircbob: Nickname is already in use.", transports.ErrConflict)
	for _, tc := range []struct {
		name            string
		err             error
		typ, cond, text string
	}{
		{"bad credentials", fmt.Errorf("%w: NickServ: Invalid password for bob.", transports.ErrBadCredentials),
			"modify", "not-acceptable", "NickServ: Invalid password for bob."},
		{"invalid input", fmt.Errorf("%w: \"a b\" is not a valid IRC nickname", transports.ErrInvalidInput),
			"modify", "not-acceptable", `"a b" is not a valid IRC nickname`},
		{"not found", fmt.Errorf("%w: #x is not a channel", transports.ErrNotFound),
			"cancel", "item-not-found", "#x is not a channel"},
		{"forbidden", fmt.Errorf("%w: #banned: Cannot join channel (+b)", transports.ErrForbidden),
			"auth", "forbidden", "#banned: Cannot join channel (+b)"},
		{"not connected", fmt.Errorf("%w: not connected to irc.example right now", transports.ErrNotConnected),
			"wait", "recipient-unavailable", "not connected to irc.example right now"},
		{"unsupported", fmt.Errorf("%w: IRC cannot take a reaction back", transports.ErrUnsupported),
			"cancel", "feature-not-implemented", "IRC cannot take a reaction back"},
		{"conflict", inUse, "cancel", "conflict", "ircbob: Nickname is already in use."},
		{"policy", fmt.Errorf("%w: server evil.example is not in allowed_servers", transports.ErrPolicy),
			"cancel", "not-allowed", "server evil.example is not in allowed_servers"},
		{"limit", fmt.Errorf("%w: at most 3 servers per user", transports.ErrLimit),
			"modify", "policy-violation", "at most 3 servers per user"},
		{"busy", fmt.Errorf("%w: the send queue is full", transports.ErrBusy),
			"wait", "resource-constraint", "the send queue is full"},
		{"unavailable", fmt.Errorf("%w: irc.example: connection refused", transports.ErrUnavailable),
			"wait", "remote-server-not-found", "irc.example: connection refused"},
		{"deadline", context.DeadlineExceeded, "wait", "remote-server-timeout", "The legacy network did not answer in time."},
		{"wrapped deadline", fmt.Errorf("joining #x: %w", context.DeadlineExceeded),
			"wait", "remote-server-timeout", "The legacy network did not answer in time."},
		{"no sentinel", errors.New("something odd"), "wait", "remote-server-not-found", "something odd"},

		// Chains: the sentinel's words go wherever "%w: " put them; what
		// wraps them stays.
		{"wrapped twice", fmt.Errorf("joining #test: %w", inUse),
			"cancel", "conflict", "joining #test: ircbob: Nickname is already in use."},
		{"through errors.Join", errors.Join(errors.New("first"), inUse),
			"cancel", "conflict", "first\nircbob: Nickname is already in use."},
		{"sentinel wrapping an error", fmt.Errorf("%w: saving a thread: %w", transports.ErrUnavailable, errors.New("disk full")),
			"wait", "remote-server-not-found", "saving a thread: disk full"},
		{"sentinel before a deadline", fmt.Errorf("%w: irc.example did not answer in time: %w", transports.ErrUnavailable, context.DeadlineExceeded),
			"wait", "remote-server-not-found", "irc.example did not answer in time: context deadline exceeded"},
		{"two sentinels: the table's order decides", fmt.Errorf("%w: %w: nick taken", transports.ErrForbidden, transports.ErrConflict),
			"auth", "forbidden", "name already in use: nick taken"},

		// The sentinel alone is all there is to say: it stays.
		{"bare sentinel", transports.ErrNotConnected, "wait", "recipient-unavailable", "not connected"},
		{"sentinel last", fmt.Errorf("sending to bob: %w", transports.ErrNotConnected),
			"wait", "recipient-unavailable", "sending to bob: not connected"},
		{"sentinel then blanks", fmt.Errorf("%w:  ", transports.ErrBusy), "wait", "resource-constraint", "too busy:  "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FromLegacy(tc.err)
			if got.Type != tc.typ || got.Condition != tc.cond || got.Text != tc.text {
				t.Errorf("FromLegacy(%q) = %s/%s %q, want %s/%s %q", tc.err, got.Type, got.Condition, got.Text, tc.typ, tc.cond, tc.text)
			}
		})
	}
}

// TestFromLegacyCoversEverySentinel guards the table: a sentinel added to
// transports without a condition here would fall to remote-server-not-found.
func TestFromLegacyCoversEverySentinel(t *testing.T) {
	want := map[error]string{
		transports.ErrBadCredentials: "not-acceptable",
		transports.ErrInvalidInput:   "not-acceptable",
		transports.ErrNotFound:       "item-not-found",
		transports.ErrForbidden:      "forbidden",
		transports.ErrNotConnected:   "recipient-unavailable",
		transports.ErrUnsupported:    "feature-not-implemented",
		transports.ErrConflict:       "conflict",
		transports.ErrPolicy:         "not-allowed",
		transports.ErrLimit:          "policy-violation",
		transports.ErrBusy:           "resource-constraint",
		transports.ErrUnavailable:    "remote-server-not-found",
	}
	if len(conditions) != len(want) {
		t.Errorf("the mapping has %d sentinels, the test knows %d", len(conditions), len(want))
	}
	for sentinel, cond := range want {
		got := FromLegacy(fmt.Errorf("outer: %w", fmt.Errorf("%w: detail", sentinel)))
		if got.Condition != cond || got.Text != "outer: detail" {
			t.Errorf("%q wrapped twice = %s %q, want %s %q", sentinel, got.Condition, got.Text, cond, "outer: detail")
		}
	}
}

func TestFromLegacyNil(t *testing.T) {
	if got := FromLegacy(nil); got != nil {
		t.Errorf("FromLegacy(nil) = %v, want nil", got)
	}
}

func TestFrom(t *testing.T) {
	own := New("cancel", "forbidden", "This gateway only serves users of: %s.", "example.org")
	for _, tc := range []struct {
		name      string
		err       error
		cond, txt string
	}{
		{"own error", own, "forbidden", "This gateway only serves users of: example.org."},
		{"own error wrapped", fmt.Errorf("handling: %w", own), "forbidden", "This gateway only serves users of: example.org."},
		{"legacy error", fmt.Errorf("%w: #x is not a channel", transports.ErrNotFound), "item-not-found", "#x is not a channel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := From(tc.err)
			if got.Condition != tc.cond || got.Text != tc.txt {
				t.Errorf("From(%q) = %s %q, want %s %q", tc.err, got.Condition, got.Text, tc.cond, tc.txt)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{New("wait", "resource-constraint", ""), "resource-constraint"},
		{New("modify", "not-acceptable", "%q is too long", "nick"), `not-acceptable: "nick" is too long`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// parsed is a stanza error as a reader sees it, by namespace and local name.
type parsed struct {
	typ, condNS, cond, textNS, lang, text string
	conds                                 int
	appNS, app                            string // the application-specific condition
}

func parseWire(t *testing.T, b []byte) parsed {
	t.Helper()
	var p parsed
	d := xml.NewDecoder(strings.NewReader(string(b)))
	depth := 0
	var inText bool
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1:
				if el.Name.Local != "error" {
					t.Fatalf("root is %v, want error", el.Name)
				}
				for _, a := range el.Attr {
					if a.Name.Local == "type" && a.Name.Space == "" {
						p.typ = a.Value
					}
				}
			case depth == 2 && el.Name.Space == NS && el.Name.Local == "text":
				p.textNS, inText = el.Name.Space, true
				for _, a := range el.Attr {
					if a.Name.Local == "lang" && a.Name.Space == "http://www.w3.org/XML/1998/namespace" {
						p.lang = a.Value
					}
				}
			case depth == 2 && el.Name.Space == NS:
				p.condNS, p.cond = el.Name.Space, el.Name.Local
				p.conds++
			case depth == 2:
				p.appNS, p.app = el.Name.Space, el.Name.Local
			}
		case xml.CharData:
			if inText {
				p.text += string(el)
			}
		case xml.EndElement:
			depth--
			inText = false
		}
	}
	return p
}

func TestWire(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *Error
		want parsed
	}{
		{"with text", FromLegacy(fmt.Errorf("%w: ircbob: Nickname is already in use.", transports.ErrConflict)),
			parsed{typ: "cancel", condNS: NS, cond: "conflict", textNS: NS, lang: "en", text: "ircbob: Nickname is already in use.", conds: 1}},
		{"markup in text is escaped", New("modify", "not-acceptable", "<b>&"),
			parsed{typ: "modify", condNS: NS, cond: "not-acceptable", textNS: NS, lang: "en", text: "<b>&", conds: 1}},
		{"no text", New("wait", "resource-constraint", ""),
			parsed{typ: "wait", condNS: NS, cond: "resource-constraint", conds: 1}},
		{"application-specific condition", &Error{Type: "modify", Condition: "bad-request", Text: "start again",
			App: xml.Name{Space: "http://jabber.org/protocol/commands", Local: "bad-sessionid"}},
			parsed{typ: "modify", condNS: NS, cond: "bad-request", textNS: NS, lang: "en", text: "start again", conds: 1,
				appNS: "http://jabber.org/protocol/commands", app: "bad-sessionid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := xml.Marshal(tc.err.Wire())
			if err != nil {
				t.Fatal(err)
			}
			if got := parseWire(t, b); got != tc.want {
				t.Errorf("wire %s parsed as %+v, want %+v", b, got, tc.want)
			}
		})
	}
}

func TestDetail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"credentials refused: Invalid username or password", "Invalid username or password"},
		{"legacy network unavailable: irc.example: connection refused", "irc.example: connection refused"},
		{"name already in use: ircbob: Nickname is already in use.", "ircbob: Nickname is already in use."},
		{"connection reset by peer", "connection reset by peer"},
		{"credentials refused", "credentials refused"},
		{"credentials refused: ", "credentials refused: "},
		{"dial: credentials refused: x", "dial: credentials refused: x"},
		{"", ""},
	} {
		if got := Detail(tc.in); got != tc.want {
			t.Errorf("Detail(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
