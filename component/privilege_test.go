package component_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// TestPrivilegedRoster: on each XMPP server, with the server's XEP-0356
// roster grant (Prosody's mod_privilege speaks version 2, ejabberd 23
// version 1), the legacy contact list goes into the user's roster
// directly — named, grouped, subscribed both ways, no request to accept —
// and a contact leaving the list leaves the roster. ejabberd 23.01
// (Debian 12) grants the privilege but fails every privileged roster set
// (its mod_roster looks itself up on the component's domain:
// processone/ejabberd#3942, fixed in 23.10): there the refused push falls
// back to asking the user, one named subscription request per contact.
func TestPrivilegedRoster(t *testing.T) {
	comps := map[string]string{gw: secret}
	servers := map[string]func(t *testing.T) testenv.XMPPServer{
		"prosody": func(t *testing.T) testenv.XMPPServer {
			return testenv.StartProsody(t, testenv.ProsodyOptions{Components: comps, Privileged: []string{gw}})
		},
		"ejabberd": func(t *testing.T) testenv.XMPPServer {
			return testenv.StartEjabberd(t, testenv.EjabberdOptions{Components: comps, Privileged: []string{gw}})
		},
	}
	for _, name := range testenv.XMPPServers {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{prosody: servers[name](t), caps: func(c *transports.Capabilities) { c.Contacts = true }})
			e.net.SetContacts([]transports.Contact{{ID: "carol", Name: "Carol C", Groups: []string{"Friends", " "}}, {ID: "dave"}})
			user := e.user(t, "rosa", "pc", 0)
			e.register(t, user)
			a := e.adapter(t, "rosa@localhost")

			if name == "ejabberd" {
				req := user.Expect(t, "carol's subscription request", isPresence("carol@"+gw, "subscribe"))
				if n := req.Child(nsNickTest, "nick"); n == nil || n.Text != "Carol C" {
					t.Errorf("carol's request has no nick Carol C: %s", req)
				}
				user.Expect(t, "dave's subscription request", isPresence("dave@"+gw, "subscribe"))
				if !strings.Contains(e.logs.String(), "roster push refused") {
					t.Errorf("the fallback ran without a refused push:\n%s", e.logs)
				}
				return
			}
			waitSubscription(t, user, "carol@"+gw, "both")
			waitSubscription(t, user, "dave@"+gw, "both")
			res := user.IQ(t, `<iq type="get"><query xmlns="jabber:iq:roster"/></iq>`)
			for _, it := range res.Find(qRoster).ChildrenNamed("jabber:iq:roster", "item") {
				if it.Attr("jid") != "carol@"+gw {
					continue
				}
				groups := it.ChildrenNamed("jabber:iq:roster", "group")
				if it.Attr("name") != "Carol C" || len(groups) != 1 || groups[0].Text != "Friends" {
					t.Errorf("carol's roster item: %s", it)
				}
			}
			user.ExpectNone(t, time.Second, func(el *testenv.Element) bool {
				return isPresence("carol@"+gw, "subscribe")(el) || isPresence("dave@"+gw, "subscribe")(el)
			})

			a.Emit(&transports.ContactEvent{Contact: transports.Contact{ID: "dave"}, Removed: true})
			waitSubscription(t, user, "dave@"+gw, "")
			if sub := rosterSubscription(t, user, "carol@"+gw); sub != "both" {
				t.Errorf("carol's subscription became %q", sub)
			}
		})
	}
}

// TestOwnMessagesAsCarbons: with the server's XEP-0356 message
// privilege (Prosody's mod_privilege), the user's own one-to-one message
// written from another legacy client is sent on their behalf, so their
// client gets it as a sent carbon (XEP-0280) from their own address to
// the contact's, and the server's echo of it to the contact's JID is not
// sent to the network again. ejabberd 23.01 (Debian 12) grants the
// message permission and routes such a message to the contact, but sends
// no carbon and archives nothing (processone/ejabberd#3990, fixed in
// 23.10), with no error: the gateway asks the server's version and, for
// such an ejabberd, shows the message marked from the contact's JID
// instead, as without the privilege.
func TestOwnMessagesAsCarbons(t *testing.T) {
	comps := map[string]string{gw: secret}
	servers := map[string]func(t *testing.T) testenv.XMPPServer{
		"prosody": func(t *testing.T) testenv.XMPPServer {
			return testenv.StartProsody(t, testenv.ProsodyOptions{Components: comps, Privileged: []string{gw}})
		},
		"ejabberd": func(t *testing.T) testenv.XMPPServer {
			return testenv.StartEjabberd(t, testenv.EjabberdOptions{Components: comps, Privileged: []string{gw}})
		},
	}
	for _, name := range testenv.XMPPServers {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{prosody: servers[name](t)})
			user := e.user(t, "sara", "pc", 0)
			e.register(t, user)
			a := e.adapter(t, "sara@localhost")
			if res := user.IQ(t, `<iq type="set"><enable xmlns="urn:xmpp:carbons:2"/></iq>`); res.Attr("type") != "result" {
				t.Fatalf("enabling carbons: %s", res)
			}

			a.Emit(&transports.MessageEvent{From: "carol", Own: true, Body: "from my phone", RemoteID: "o1",
				Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
			if name == "ejabberd" {
				m := user.Expect(t, "the marked message", func(el *testenv.Element) bool {
					return isStanza(el, "message") && el.Attr("from") == "carol@"+gw && bodyOf(el) == "[you, from another client] from my phone"
				})
				if d := m.Child("urn:xmpp:delay", "delay"); d == nil || d.Attr("stamp") != "2026-01-02T03:04:05Z" {
					t.Errorf("the marked message lost its time: %s", m)
				}
				for _, el := range user.Pending() {
					if el.Child("urn:xmpp:carbons:2", "sent") != nil {
						t.Errorf("a carbon from a server that sends none: %s", el)
					}
				}
				if !strings.Contains(e.logs.String(), "processone/ejabberd#3990") {
					t.Errorf("the message privilege was not found unusable:\n%s", e.logs)
				}
			} else {
				expectCarbon(t, user)
			}
			select {
			case m := <-a.Sent():
				t.Fatalf("the server's echo of the carbon went to the network: %+v", m)
			case <-time.After(2 * time.Second):
			}
			// A message the user writes here still reaches the network.
			user.Send(t, `<message type="chat" to="carol@`+gw+`" id="real1"><body>typed here</body></message>`)
			select {
			case m := <-a.Sent():
				if m.Body != "typed here" {
					t.Errorf("sent %+v", m)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the user's own message did not reach the network")
			}

			// The user's own reaction from another legacy client, to
			// carol's message: a sent carbon of their reactions where the
			// privilege works, else a marked text; never sent back.
			a.Emit(&transports.MessageEvent{From: "carol", Body: "react to me", RemoteID: "c1"})
			orig := user.Expect(t, "carol's message", func(el *testenv.Element) bool {
				return isStanza(el, "message") && el.ChildText(testenv.NSClient, "body") == "react to me"
			})
			a.Emit(&transports.ReactionEvent{From: "carol", Target: "c1", Reaction: "🙂", Own: true})
			if name == "ejabberd" {
				user.Expect(t, "the marked reaction", func(el *testenv.Element) bool {
					return isStanza(el, "message") && el.Attr("from") == "carol@"+gw &&
						bodyOf(el) == "[you, from another client] [reacted 🙂 to an earlier message]" && el.Child(nsReactions, "reactions") == nil
				})
			} else {
				rc := user.Expect(t, "a sent carbon of the reaction", func(el *testenv.Element) bool {
					return isStanza(el, "message") && el.Child("urn:xmpp:carbons:2", "sent") != nil
				})
				inner := rc.Child("urn:xmpp:carbons:2", "sent").Child("urn:xmpp:forward:0", "forwarded").Child(testenv.NSClient, "message")
				r := inner.Child(nsReactions, "reactions")
				if bareOf(inner.Attr("from")) != "sara@localhost" || inner.Attr("to") != "carol@"+gw || r == nil || r.Attr("id") != orig.Attr("id") ||
					r.ChildText(nsReactions, "reaction") != "🙂" {
					t.Fatalf("reaction carbon: %s (original %s)", rc, orig)
				}
			}
			time.Sleep(time.Second) // the server's echo of a carbon, if any, is back by now
			if got := a.Reactions(); len(got) != 0 {
				t.Errorf("the server's echo of the reaction went to the network: %+v", got)
			}
		})
	}
}

// expectCarbon waits for the sent carbon of the own message of
// TestOwnMessagesAsCarbons.
func expectCarbon(t *testing.T, user *testenv.Client) {
	t.Helper()
	sent := user.Expect(t, "a sent carbon", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Child("urn:xmpp:carbons:2", "sent") != nil
	})
	inner := sent.Child("urn:xmpp:carbons:2", "sent").Child("urn:xmpp:forward:0", "forwarded").Child(testenv.NSClient, "message")
	if inner == nil || bareOf(inner.Attr("from")) != "sara@localhost" || inner.Attr("to") != "carol@"+gw ||
		inner.ChildText(testenv.NSClient, "body") != "from my phone" {
		t.Fatalf("carbon: %s", sent)
	}
	if d := inner.Child("urn:xmpp:delay", "delay"); d == nil || d.Attr("stamp") != "2026-01-02T03:04:05Z" {
		t.Errorf("the carbon lost the message's time: %s", sent)
	}
}
