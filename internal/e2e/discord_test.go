package e2e_test

import (
	"os"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/discord"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/internal/testenv/spacebartest"
)

const discordGW = "discord.localhost"

// One Spacebar serves the package's Discord tests: it takes 16–20 s to
// start. The first test that needs it starts it; TestMain stops it. A
// missing prerequisite fails those tests, never skips them.
// discordgo's endpoints are globals: they are pointed once, before any
// session runs, so no test writes them while another reads.
var shared = testenv.SharedSpacebar{Started: func(sb *testenv.Spacebar) { spacebartest.PointAt(sb.BaseURL()) }}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

func spacebar(t *testing.T) *testenv.Spacebar {
	t.Helper()
	return shared.Get(t)
}

func registerDiscord(t *testing.T, c *testenv.Client, token string) *testenv.Element {
	t.Helper()
	return c.IQ(t, `<iq type="set" to="`+discordGW+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>jabber:iq:register</value></field>`+
		`<field var="token"><value>`+token+`</value></field>`+
		`<field var="account"><value>bot</value></field></x></query></iq>`)
}

// TestDiscordEndToEnd: Prosody, the component and a real Spacebar. An
// XMPP user registers their bot (a refused token is not-acceptable),
// joins a guild channel as a MUC room (Discord's members as occupants,
// the topic as subject), and messages, corrections and DMs cross both
// ways with Bob, a Discord user.
func TestDiscordEndToEnd(t *testing.T) {
	sb := spacebar(t)
	sc := sb.SetupScene(t)
	logs := &testenv.LogBuffer{}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{discordGW: secret}})
	network, err := discord.New(discord.Config{ServerURL: sb.BaseURL(), Timeout: timeout, Logger: debugLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	startGateway(t, p, discordGW, network, logs)

	bob, bobEvents := spacebartest.Session(t, sb, sc.Bob.Token)
	if err := bob.Open(); err != nil {
		t.Fatalf("bob's gateway: %v", err)
	}
	if _, err := bob.ChannelMessageSend(sc.ChannelID, "before alice came"); err != nil {
		t.Fatal(err)
	}

	p.CreateUser(t, "alice", "xmpp-pw")
	c := p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	res := registerDiscord(t, c, "not-a-token.at-all")
	if res.Attr("type") != "error" || res.Child("", "error").Child("urn:ietf:params:xml:ns:xmpp-stanzas", "not-acceptable") == nil {
		t.Fatalf("a refused token: %s", res)
	}
	if res := registerDiscord(t, c, sc.Bot.Token); res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	c.Send(t, `<presence to="`+discordGW+`" type="subscribed"/>`)
	c.Send(t, `<presence/>`)
	c.Expect(t, "connected", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == discordGW && el.ChildText("", "status") == "Connected"
	})

	room := string(discord.ChannelID(sc.ChannelID, sc.GuildID)) + "@" + discordGW
	guild := string(discord.GuildID(sc.GuildID)) + "@" + discordGW

	// Browsing: the gateway lists the bot's guild by name, the guild its
	// channels by name.
	for _, b := range []struct{ to, jid, name string }{{discordGW, guild, "testguild"}, {guild, room, "#general"}} {
		res := c.IQ(t, `<iq type="get" to="`+b.to+`"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`)
		found := false
		if q := res.Child("http://jabber.org/protocol/disco#items", "query"); q != nil {
			for _, it := range q.Children {
				// a room's name carries its member count: "#general (3)"
				found = found || (it.Name.Local == "item" && it.Attr("jid") == b.jid && strings.HasPrefix(it.Attr("name"), b.name))
			}
		}
		if !found {
			t.Errorf("disco#items of %s: %s; want %s named %q…", b.to, res, b.jid, b.name)
		}
	}
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"><history maxstanzas="5"/></x></presence>`)
	bobP := c.Expect(t, "bob's presence", isPresenceFrom(room+"/bob"))
	if it := item(bobP); it == nil || it.Attr("role") != "participant" || it.Attr("affiliation") != "member" {
		t.Errorf("bob's presence: %s", bobP)
	}
	ownerP := c.Expect(t, "the owner's presence", isPresenceFrom(room+"/alice"))
	if it := item(ownerP); it == nil || it.Attr("affiliation") != "owner" {
		t.Errorf("alice (Discord, the guild's owner): %s", ownerP)
	}
	self := c.Expect(t, "own presence with 110", isPresenceFrom(room+"/relaybot", "110"))
	if it := item(self); it == nil || it.Attr("affiliation") != "admin" {
		t.Errorf("own presence: %s", self)
	}
	hist := c.Expect(t, "history", isGroupchat(room+"/bob", "before alice came"))
	if hist.Child("urn:xmpp:delay", "delay") == nil {
		t.Errorf("history without a delay stamp: %s", hist)
	}

	// Discord → XMPP, and a correction.
	m, err := bob.ChannelMessageSend(sc.ChannelID, "hi <@"+sc.Bot.ID+">")
	if err != nil {
		t.Fatal(err)
	}
	first := c.Expect(t, "bob's message", isGroupchat(room+"/bob", "hi @relaybot"))
	if _, err := bob.ChannelMessageEdit(sc.ChannelID, m.ID, "hi again"); err != nil {
		t.Fatal(err)
	}
	corr := c.Expect(t, "bob's correction", isGroupchat(room+"/bob", "hi again"))
	if r := corr.Child("urn:xmpp:message-correct:0", "replace"); r == nil || r.Attr("id") == "" ||
		(r.Attr("id") != first.Attr("id") && r.Attr("id") != stanzaID(first)) {
		t.Errorf("correction %s does not replace %s", corr, first)
	}

	// XMPP → Discord, reflected under the sender's id.
	c.Send(t, `<message type="groupchat" id="g1" to="`+room+`"><body>hello @bob</body></message>`)
	got := spacebartest.Wait(t, bobEvents, "MESSAGE_CREATE", func(m *discordgo.MessageCreate) bool {
		return m.Author != nil && m.Author.ID == sc.Bot.ID && m.ChannelID == sc.ChannelID
	}, timeout)
	if got.Content != "hello <@"+sc.Bob.ID+">" {
		t.Errorf("bob sees %q", got.Content)
	}
	if r := c.Expect(t, "reflection", isGroupchat(room+"/relaybot", "hello @bob")); r.Attr("id") != "g1" {
		t.Errorf("reflection id = %q, want g1", r.Attr("id"))
	}

	// A DM both ways.
	dm, err := bob.UserChannelCreate(sc.Bot.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.ChannelMessageSend(dm.ID, "psst"); err != nil {
		t.Fatal(err)
	}
	bobJID := sc.Bob.ID + "@" + discordGW
	c.Expect(t, "bob's DM", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "chat" && strings.HasPrefix(el.Attr("from"), bobJID) && body(el) == "psst"
	})
	c.Send(t, `<message type="chat" id="d1" to="`+bobJID+`"><body>yes?</body></message>`)
	reply := spacebartest.Wait(t, bobEvents, "MESSAGE_CREATE", func(m *discordgo.MessageCreate) bool {
		return m.ChannelID == dm.ID && m.Author != nil && m.Author.ID == sc.Bot.ID
	}, timeout)
	if reply.Content != "yes?" {
		t.Errorf("bob's DM from alice: %q", reply.Content)
	}
}

// stanzaID is the XEP-0359 stanza-id the room gave el, if any.
func stanzaID(el *testenv.Element) string {
	if s := el.Child("urn:xmpp:sid:0", "stanza-id"); s != nil {
		return s.Attr("id")
	}
	return ""
}
