package component

import (
	"encoding/xml"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// routeSeeds are stanzas of each kind the component handles, as the
// server would route them (jabber:component:accept).
var routeSeeds = []string{
	`<iq type="get" id="1" from="alice@localhost/pc" to="gw.localhost"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`,
	`<iq type="get" id="2" from="alice@localhost/pc" to="gw.localhost"><query xmlns="http://jabber.org/protocol/disco#items" node="http://jabber.org/protocol/commands"/></iq>`,
	`<iq type="get" id="3" from="alice@localhost/pc" to="#room%irc.example@gw.localhost"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`,
	`<iq type="get" id="4" from="alice@localhost/pc" to="irc.example@gw.localhost"><query xmlns="http://jabber.org/protocol/disco#items"><set xmlns="http://jabber.org/protocol/rsm"><max>2</max><after>x</after></set></query></iq>`,
	`<iq type="get" id="5" from="alice@localhost/pc" to="gw.localhost"><ping xmlns="urn:xmpp:ping"/></iq>`,
	`<iq type="get" id="6" from="mallory@far.example/x" to="gw.localhost"><query xmlns="jabber:iq:version"/></iq>`,
	`<iq type="get" id="7" from="alice@localhost/pc" to="gw.localhost"><query xmlns="jabber:iq:register"/></iq>`,
	`<iq type="set" id="8" from="alice@localhost/pc" to="gw.localhost"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit"><field var="username"><value>alice-legacy</value></field><field var="password"><value>pw</value></field></x></query></iq>`,
	`<iq type="set" id="9" from="alice@localhost/pc" to="gw.localhost"><query xmlns="jabber:iq:register"><username>alice-legacy</username><password>pw</password></query></iq>`,
	`<iq type="set" id="10" from="alice@localhost/pc" to="gw.localhost"><query xmlns="jabber:iq:register"><remove/></query></iq>`,
	`<iq type="set" id="11" from="alice@localhost/pc" to="gw.localhost"><query xmlns="jabber:iq:gateway"><prompt>bob@example.com</prompt></query></iq>`,
	`<iq type="set" id="12" from="admin@localhost/pc" to="gw.localhost"><command xmlns="http://jabber.org/protocol/commands" node="statistics" action="execute"/></iq>`,
	`<iq type="set" id="13" from="alice@localhost/pc" to="gw.localhost"><command xmlns="http://jabber.org/protocol/commands" node="register" action="execute"/></iq>`,
	`<iq type="get" id="14" from="alice@localhost/pc" to="#room%irc.example@gw.localhost"><query xmlns="http://jabber.org/protocol/muc#admin"><item role="participant"/></query></iq>`,
	`<iq type="set" id="15" from="alice@localhost/pc" to="#room%irc.example@gw.localhost"><query xmlns="http://jabber.org/protocol/muc#admin"><item nick="bob" role="none"><reason>flood</reason></item></query></iq>`,
	`<iq type="get" id="16" from="alice@localhost/pc" to="#room%irc.example@gw.localhost/alice"><ping xmlns="urn:xmpp:ping"/></iq>`,
	`<iq type="result" id="17" from="localhost" to="gw.localhost"/>`,
	`<iq type="error" id="18" from="localhost" to="gw.localhost"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
	`<message type="chat" id="m1" from="alice@localhost/pc" to="echo@gw.localhost"><body>hello</body><request xmlns="urn:xmpp:receipts"/><origin-id xmlns="urn:xmpp:sid:0" id="o1"/></message>`,
	`<message type="chat" id="m2" from="alice@localhost/pc" to="gw.localhost"><body>help</body></message>`,
	`<message type="chat" id="m3" from="alice@localhost/pc" to="gw.localhost"><body>register</body></message>`,
	`<message type="groupchat" id="m4" from="alice@localhost/pc" to="#room%irc.example@gw.localhost"><body>hi all</body></message>`,
	`<message type="groupchat" id="m5" from="alice@localhost/pc" to="#room%irc.example@gw.localhost"><subject>new topic</subject></message>`,
	`<message id="m6" from="alice@localhost/pc" to="#room%irc.example@gw.localhost"><x xmlns="http://jabber.org/protocol/muc#user"><invite to="bob@gw.localhost"/></x></message>`,
	`<message type="chat" id="m7" from="alice@localhost/pc" to="echo@gw.localhost"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`,
	`<message type="groupchat" id="m8" from="alice@localhost/pc" to="#room%irc.example@gw.localhost"><reactions xmlns="urn:xmpp:reactions:0" id="x"><reaction>👍</reaction></reactions></message>`,
	`<message type="chat" id="m9" from="alice@localhost/pc" to="echo@gw.localhost"><body>see</body><x xmlns="jabber:x:oob"><url>https://example.org/f</url></x></message>`,
	`<message type="error" id="m10" from="alice@localhost/pc" to="echo@gw.localhost"><error type="cancel"><gone xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`,
	`<presence from="alice@localhost/pc" to="gw.localhost"><priority>5</priority><show>away</show><status>lunch</status></presence>`,
	`<presence type="unavailable" from="alice@localhost/pc" to="gw.localhost"/>`,
	`<presence type="subscribe" from="alice@localhost" to="bob@gw.localhost"/>`,
	`<presence type="subscribed" from="alice@localhost" to="gw.localhost"/>`,
	`<presence type="unsubscribe" from="alice@localhost" to="bob@gw.localhost"/>`,
	`<presence type="probe" from="alice@localhost" to="bob@gw.localhost"/>`,
	`<presence from="alice@localhost/pc" to="#room%irc.example@gw.localhost/alice"><x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="5"/></x></presence>`,
	`<presence type="unavailable" from="alice@localhost/pc" to="#room%irc.example@gw.localhost/alice"/>`,
	`<presence type="error" from="alice@localhost/pc" to="gw.localhost"><error type="cancel"><remote-server-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`,
	`<iq type="get" id="x" from="gw.localhost" to="gw.localhost"><ping xmlns="urn:xmpp:ping"/></iq>`,
	`<message from="a@b@c" to="gw.localhost"><body>x</body></message>`,
}

// FuzzRoute feeds random XML through the stream's reader (xmltree, with
// the size limit) into the routing of a component bridging to a fake
// network with rooms. There is no stream: every stanza the component
// writes is discarded. Nothing may panic, here or in the work started.
func FuzzRoute(f *testing.F) {
	for _, s := range routeSeeds {
		f.Add(s)
	}
	st, err := bolt.Open(filepath.Join(f.TempDir(), "switchboard.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	ids, state := msgid.New(st), netstate.New(st)
	reg, err := registry.New(st, make([]byte, 32), ids, state)
	if err != nil {
		f.Fatal(err)
	}
	rn := transportstest.NewRooms(map[string]string{"alice-legacy": "pw"})
	c, err := New(Config{
		Domain:     "gw.localhost",
		Network:    rn,
		Registry:   reg,
		Outbox:     outbox.New(st),
		MessageIDs: ids,
		NetState:   state,
		Admins:     []string{"admin@localhost"},
		Logger:     slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(c.sup.Close)
	f.Fuzz(func(t *testing.T, in string) {
		d := xml.NewDecoder(strings.NewReader(in))
		for {
			tok, err := d.Token()
			if err != nil {
				return
			}
			start, ok := tok.(xml.StartElement)
			if !ok {
				continue
			}
			// The stream's default namespace, as the session's decoder
			// gives it.
			if start.Name.Space == "" {
				start.Name.Space = nsComponent
			}
			n, err := xmltree.Read(start, &defaultNS{d}, c.maxStanza())
			if err != nil {
				return
			}
			c.routeAt(n, 0)
		}
	})
}

// defaultNS puts elements in no namespace into the component stream's, as
// a decoder reading the stream does.
type defaultNS struct{ d *xml.Decoder }

func (r *defaultNS) Token() (xml.Token, error) {
	tok, err := r.d.Token()
	switch t := tok.(type) {
	case xml.StartElement:
		if t.Name.Space == "" {
			t.Name.Space = nsComponent
		}
		return t, err
	case xml.EndElement:
		if t.Name.Space == "" {
			t.Name.Space = nsComponent
		}
		return t, err
	}
	return tok, err
}
