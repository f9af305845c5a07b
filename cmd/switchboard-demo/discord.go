package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/discord"
	"github.com/switchboard-im/switchboard/internal/testenv"
)

const discordGW = "discord.localhost"

// runDiscord is the Discord scene (`make demo-discord`): a real Prosody,
// Spacebar (an open-source Discord-compatible server: PostgreSQL and a
// Node build from the npm registry, cached after its first build) and
// Switchboard; an XMPP user registers her Discord bot, browses her guild,
// joins a channel as a group chat and talks with bob, who uses Discord.
func runDiscord(dir string) error {
	// The first run builds Spacebar (a few minutes); later ones start it.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	p, err := startProsody(dir, discordGW)
	if err != nil {
		return err
	}
	defer p.Shutdown()

	step("Starting Spacebar, a Discord-compatible server (built once, then cached)")
	sb, err := testenv.LaunchSpacebar(ctx)
	if err != nil {
		return err
	}
	defer sb.Close()
	sc, err := sb.NewScene(ctx)
	if err != nil {
		return err
	}
	show("Discord API on %s: users alice (owner of guild \"testguild\", channel #general) and bob; alice's bot \"relaybot\" is in the guild", sb.APIURL())

	cfgText := fmt.Sprintf(`[xmpp]
server = %q
[storage]
path = %q
[security]
key_file = %q
allowed_domains = ["localhost"]
[http]
listen = "127.0.0.1:0"
[discord]
domain = %q
secret = "s3cret"
server_url = %q   # Spacebar here; Discord itself when left out
`, p.ComponentAddr, filepath.Join(dir, "switchboard.db"), filepath.Join(dir, "switchboard.key"), discordGW, sb.BaseURL())
	sw, err := startSwitchboard(ctx, dir, cfgText, nil)
	if err != nil {
		return err
	}
	defer sw.Stop()
	show("component %s connected to Prosody (XEP-0114)", discordGW)

	step("alice@localhost logs in with an ordinary XMPP client and registers her bot's token")
	c, err := login(ctx, p, "alice", "laptop")
	if err != nil {
		return err
	}
	defer c.Shutdown()
	if err := register(ctx, c, discordGW, `<field var="token"><value>`+sc.Bot.Token+`</value></field><field var="account"><value>bot</value></field>`); err != nil {
		return err
	}
	show("registered (the token was checked by a real login: GET /users/@me and a gateway IDENTIFY)")
	if _, err := c.Next(ctx, func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == discordGW && el.ChildText("", "status") == "Connected"
	}); err != nil {
		return fmt.Errorf("gateway never said connected: %w", err)
	}
	show("gateway presence: Connected")

	room := string(discord.ChannelID(sc.ChannelID, sc.GuildID)) + "@" + discordGW
	guild := string(discord.GuildID(sc.GuildID)) + "@" + discordGW
	step("She browses: the gateway lists her guilds, a guild its channels (disco#items)")
	for _, to := range []string{discordGW, guild} {
		res, err := c.Request(ctx, `<iq type="get" to="`+to+`"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`)
		if err != nil {
			return err
		}
		for _, it := range res.Find("{http://jabber.org/protocol/disco#items}query").Children {
			show("%s: %s %q", to, it.Attr("jid"), it.Attr("name"))
		}
	}

	step("She joins #general as a group chat: %s", room)
	if err := joinRoom(ctx, c, room, "alice", "affiliation"); err != nil {
		return err
	}

	step("A conversation across the gateway")
	if _, err := sb.Say(ctx, sc.Bob.Token, sc.ChannelID, "hello from Discord!"); err != nil {
		return err
	}
	show("[discord bob] says: hello from Discord!")
	el, err := c.Next(ctx, func(el *testenv.Element) bool {
		return el.Attr("type") == "groupchat" && el.Attr("from") == room+"/bob" && el.ChildText("", "body") != ""
	})
	if err != nil {
		return err
	}
	show("[xmpp alice] <bob> %s", el.ChildText("", "body"))
	reply := "Hi bob, this is XMPP."
	show("[xmpp alice] says: %s", reply)
	if err := c.SendRaw(ctx, `<message type="groupchat" id="demo-d1" to="`+room+`"><body>`+reply+`</body></message>`); err != nil {
		return err
	}
	for {
		ms, err := sb.Messages(ctx, sc.Bob.Token, sc.ChannelID)
		if err != nil {
			return err
		}
		if len(ms) > 0 && ms[0].Content == reply {
			show("[discord bob] sees <%s> %s", ms[0].Author.Username, ms[0].Content)
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bob never saw alice's message: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}

	step("What Switchboard logged (after a clean shutdown)")
	sw.Stop()
	logs := sw.Logged()
	show("bot token in Switchboard's log: %v (%d log lines)", strings.Contains(logs, sc.Bot.Token), strings.Count(logs, "\n"))
	fmt.Println("\nDemo finished.")
	return nil
}
