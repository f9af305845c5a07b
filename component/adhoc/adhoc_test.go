package adhoc

import (
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"

	"mellium.im/xmpp/commands"

	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
)

// cond is a stanza error as the requester reads it off the wire: type,
// defined condition and the XEP-0050 condition, each by namespace.
type cond struct {
	typ, cond, app string
}

// wireCond marshals err's wire form and reads its conditions back by
// namespace and local name.
func wireCond(t *testing.T, err error) cond {
	t.Helper()
	var se *stanzaerr.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a stanza error", err, err)
	}
	x := xmltreetest.Marshal(t, se.Wire())
	var c cond
	c.typ = x.Attr("type")
	for _, ch := range x.Children {
		switch {
		case ch.Name.Space == stanzaerr.NS && ch.Name.Local != "text":
			c.cond = ch.Name.Local
		case ch.Name.Space == NS:
			c.app = ch.Name.Local
		}
	}
	return c
}

func TestParseRequest(t *testing.T) {
	const cmd = `<command xmlns="` + NS + `" `
	tests := []struct {
		name    string
		in      string
		want    Request
		wantErr cond // zero: no error
	}{
		{"no action is execute", cmd + `node="status"/>`,
			Request{Node: "status", Action: ActionExecute}, cond{}},
		{"execute", cmd + `node="status" action="execute"/>`,
			Request{Node: "status", Action: ActionExecute}, cond{}},
		{"next", cmd + `node="a" sessionid="s1" action="next"/>`,
			Request{Node: "a", SessionID: "s1", Action: ActionNext}, cond{}},
		{"prev", cmd + `node="a" sessionid="s1" action="prev"/>`,
			Request{Node: "a", SessionID: "s1", Action: ActionPrev}, cond{}},
		{"cancel", cmd + `node="a" sessionid="s1" action="cancel"/>`,
			Request{Node: "a", SessionID: "s1", Action: ActionCancel}, cond{}},
		{"complete with a form", cmd + `node="settings" sessionid="s1" action="complete">` +
			`<x xmlns="jabber:x:data" type="submit"><field var="k"><value>v</value></field></x></command>`,
			Request{Node: "settings", SessionID: "s1", Action: ActionComplete,
				Form: &regform.Submitted{Type: "submit", Values: map[string]string{"k": "v"}}}, cond{}},
		{"a form of another namespace is no form", cmd + `node="settings" sessionid="s1" action="complete">` +
			`<x xmlns="urn:example:other" type="submit"><field var="k"><value>v</value></field></x></command>`,
			Request{Node: "settings", SessionID: "s1", Action: ActionComplete}, cond{}},
		{"unknown action", cmd + `node="a" action="finish"/>`,
			Request{}, cond{"modify", "bad-request", "malformed-action"}},
		{"action in another case", cmd + `node="a" action="Execute"/>`,
			Request{}, cond{"modify", "bad-request", "malformed-action"}},
		{"no node", cmd + `action="execute"/>`,
			Request{}, cond{"modify", "bad-request", ""}},
		{"command of another namespace", `<command xmlns="urn:example:commands" node="a"/>`,
			Request{}, cond{"modify", "bad-request", ""}},
		{"another element in the namespace", `<actions xmlns="` + NS + `" node="a"/>`,
			Request{}, cond{"modify", "bad-request", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest(xmltreetest.Parse(t, tt.in))
			if tt.wantErr != (cond{}) {
				if err == nil {
					t.Fatalf("ParseRequest = %+v, want error %+v", got, tt.wantErr)
				}
				if c := wireCond(t, err); c != tt.wantErr {
					t.Errorf("error %v reads %+v, want %+v", err, c, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRequest = %+v (form %+v), want %+v (form %+v)", got, got.Form, tt.want, tt.want.Form)
			}
		})
	}
}

func TestParseRequestNil(t *testing.T) {
	if _, err := ParseRequest(nil); err == nil {
		t.Error("ParseRequest(nil) accepted")
	}
}

// TestResponseWire: every element of a response is in the XEP-0050
// namespace (the form in jabber:x:data), as a client matching by
// namespace and local name finds it.
func TestResponseWire(t *testing.T) {
	r := &Response{Node: "settings", SessionID: "s1", Status: StatusExecuting,
		Actions: commands.Complete | commands.Complete<<3,
		Note:    &commands.Note{Type: commands.NoteWarn, Value: "a <b> & c"},
		Form:    &regform.Form{Type: "form", Title: "Settings"}}
	x := xmltreetest.Marshal(t, r)
	if !x.Is(NS, "command") {
		t.Fatalf("root is %v", x.Name)
	}
	for attr, want := range map[string]string{"node": "settings", "sessionid": "s1", "status": "executing"} {
		if got := x.Attr(attr); got != want {
			t.Errorf("%s = %q, want %q", attr, got, want)
		}
	}
	a := x.Child(NS, "actions")
	if a == nil || a.Attr("execute") != "complete" || a.Child(NS, "complete") == nil || a.Child(NS, "next") != nil || a.Child(NS, "prev") != nil {
		t.Errorf("actions: %v", a)
	}
	if n := x.Child(NS, "note"); n == nil || n.Attr("type") != "warn" || n.Text != "a <b> & c" {
		t.Errorf("note: %v", n)
	}
	if f := x.Child(regform.NSData, "x"); f == nil || f.Attr("type") != "form" {
		t.Errorf("form: %v", f)
	}

	// A completed command without a session has neither sessionid nor
	// actions.
	x = xmltreetest.Marshal(t, &Response{Node: "status", Status: StatusCompleted})
	if x.Attr("sessionid") != "" || x.Child(NS, "actions") != nil || x.Child(NS, "note") != nil || len(x.Children) != 0 {
		t.Errorf("completed response: %v", x)
	}
}

// FuzzParseRequest: whatever a requester sends, ParseRequest does not
// panic, and answers either a request with a node and one of XEP-0050's
// actions, or a stanza error.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`<command xmlns="` + NS + `" node="status"/>`,
		`<command xmlns="` + NS + `" node="settings" sessionid="s1" action="complete"><x xmlns="jabber:x:data" type="submit"><field var="k"><value>v</value></field></x></command>`,
		`<command xmlns="` + NS + `" node="a" action="finish"/>`,
		`<command xmlns="urn:example" node="a"/>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := xml.NewDecoder(strings.NewReader(s))
		var el *xmltree.Element
		for el == nil {
			tok, err := d.Token()
			if err != nil {
				return
			}
			if start, ok := tok.(xml.StartElement); ok {
				if el, err = xmltree.Read(start, d, 0); err != nil {
					return
				}
			}
		}
		r, err := ParseRequest(el)
		if err != nil {
			var se *stanzaerr.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a stanza error", err, err)
			}
			return
		}
		switch r.Action {
		case ActionExecute, ActionNext, ActionPrev, ActionComplete, ActionCancel:
		default:
			t.Fatalf("accepted action %q", r.Action)
		}
		if r.Node == "" {
			t.Fatal("accepted a command without a node")
		}
	})
}
