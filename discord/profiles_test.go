package discord

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/transports"
)

// TestWhoIsWho: guilds for the gateway's disco#items, profiles of people
// (with their avatars), channels and guilds, DM partners as contacts, the
// user's own nick change, and occupants as contacts.
func TestWhoIsWho(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	bob := newPeer(t, n, sc.Bob)
	s := newSink()
	a := connect(t, n, botCreds(sc), s)
	room := ChannelID(sc.ChannelID, sc.GuildID)

	t.Run("guilds", func(t *testing.T) {
		servers, err := a.Servers(context.Background())
		if err != nil || !slices.Contains(servers, transports.ServerInfo{ID: GuildID(sc.GuildID), Name: "testguild"}) {
			t.Errorf("Servers = %+v, %v; want testguild", servers, err)
		}
	})

	t.Run("profiles", func(t *testing.T) {
		for id, want := range map[transports.ID]string{room: "#general", GuildID(sc.GuildID): "testguild", UserID(sc.Bob.ID): "bob"} {
			p, err := a.Profile(context.Background(), id)
			if err != nil || p.Name != want {
				t.Errorf("Profile(%s) = %+v, %v; want %q", id, p, err, want)
			}
		}
		if _, err := a.Profile(context.Background(), UserID("424242424242")); !errors.Is(err, transports.ErrNotFound) {
			t.Errorf("Profile of nobody: %v", err)
		}
		// Bob sets an avatar; his profile carries it, byte-exact as the
		// CDN serves it.
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for i := range 16 {
			img.Set(i, i, color.RGBA{R: 200, A: 255})
		}
		var buf bytes.Buffer
		png.Encode(&buf, img)
		if _, err := bob.UserUpdate("", "data:image/png;base64,"+base64.StdEncoding.EncodeToString(buf.Bytes()), ""); err != nil {
			t.Fatalf("setting bob's avatar: %v", err)
		}
		p, err := a.Profile(context.Background(), UserID(sc.Bob.ID))
		if err != nil || p.Avatar == nil || p.Avatar.ID == "" || p.Avatar.File.Type != "image/png" || p.Avatar.File.Open == nil {
			t.Fatalf("Profile(bob) = %+v, %v; want a PNG avatar", p, err)
		}
		rc, err := p.Avatar.File.Open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(data)) != p.Avatar.File.Size {
			t.Errorf("avatar of %d bytes, announced %d", len(data), p.Avatar.File.Size)
		}
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Errorf("the avatar is no PNG: %v", err)
		}
	})

	t.Run("guild icon", func(t *testing.T) {
		// The owner gives the guild an icon: it is the picture of the
		// guild and of its channels.
		owner, _, err := n.newSession(login{token: sc.Alice.Token})
		if err != nil {
			t.Fatal(err)
		}
		img := image.NewRGBA(image.Rect(0, 0, 8, 8))
		img.Set(1, 1, color.RGBA{B: 200, A: 255})
		var buf bytes.Buffer
		png.Encode(&buf, img)
		g, err := owner.GuildEdit(sc.GuildID, &discordgo.GuildParams{Icon: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())})
		if err != nil || g.Icon == "" {
			t.Fatalf("setting the guild's icon: %+v, %v", g, err)
		}
		deadline := time.Now().Add(wait)
		for a.guildIcon(sc.GuildID) != g.Icon {
			if time.Now().After(deadline) {
				t.Fatalf("the state's icon is %q, want %q (GUILD_UPDATE)", a.guildIcon(sc.GuildID), g.Icon)
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, id := range []transports.ID{room, GuildID(sc.GuildID)} {
			p, err := a.Profile(context.Background(), id)
			if err != nil || p.Avatar == nil || p.Avatar.ID != g.Icon || p.Avatar.File.Open == nil {
				t.Fatalf("Profile(%s) = %+v, %v; want the guild's icon %s", id, p, err, g.Icon)
			}
			rc, err := p.Avatar.File.Open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			if _, err := png.Decode(bytes.NewReader(data)); err != nil {
				t.Errorf("Profile(%s): the icon is no PNG: %v", id, err)
			}
		}
	})

	t.Run("contacts", func(t *testing.T) {
		dm, err := bob.UserChannelCreate(sc.Bot.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bob.ChannelMessageSend(dm.ID, "hello"); err != nil {
			t.Fatal(err)
		}
		ev := await(t, s, func(ev *transports.ContactEvent) bool { return ev.Contact.ID == UserID(sc.Bob.ID) })
		if ev.Removed || ev.Contact.Name != "bob" {
			t.Errorf("ContactEvent = %+v", ev)
		}
		contacts, err := a.Contacts(context.Background())
		if err != nil || !slices.ContainsFunc(contacts, func(c transports.Contact) bool { return c.ID == UserID(sc.Bob.ID) && c.Name == "bob" }) {
			t.Errorf("Contacts = %+v, %v; want bob", contacts, err)
		}
	})

	t.Run("own nick", func(t *testing.T) {
		if err := a.JoinRoom(context.Background(), room, ""); err != nil {
			t.Fatal(err)
		}
		ready := await(t, s, func(ev *transports.RoomReadyEvent) bool { return ev.Room == room })
		if ready.Name != "#general" || ready.Nick != "relaybot" || ready.Members != 0 {
			t.Errorf("RoomReady = %+v", ready)
		}
		if err := a.SetNick(context.Background(), room, "relay"); err != nil {
			t.Fatalf("SetNick: %v", err)
		}
		ev := await(t, s, func(ev *transports.OccupantEvent) bool { return ev.Self && ev.NewNick != "" })
		if ev.Nick != "relaybot" || ev.NewNick != "relay" || ev.OccupantID != sc.Bot.ID {
			t.Errorf("own nick change as %+v", ev)
		}
		if err := a.SetNick(context.Background(), GroupID("123"), "x"); !errors.Is(err, transports.ErrUnsupported) {
			t.Errorf("SetNick in a group DM: %v", err)
		}
	})

	t.Run("occupants as contacts", func(t *testing.T) {
		var bobOcc *transports.OccupantEvent
		for _, ev := range s.all() {
			if o, ok := ev.(*transports.OccupantEvent); ok && o.Room == room && o.Nick == "bob" {
				bobOcc = o
			}
		}
		if bobOcc == nil || bobOcc.OccupantID != sc.Bob.ID {
			t.Fatalf("bob's occupant event %+v; want his user ID as occupant ID", bobOcc)
		}
		id, err := n.OccupantContact(room, "bob", bobOcc.OccupantID)
		if err != nil || id != UserID(sc.Bob.ID) {
			t.Errorf("OccupantContact = %q, %v", id, err)
		}
		if _, err := n.OccupantContact(room, "bob", ""); !errors.Is(err, transports.ErrNotFound) {
			t.Errorf("OccupantContact without an ID: %v", err)
		}
	})
}

func TestHue(t *testing.T) {
	tests := []struct {
		rgb  int
		want float64
	}{
		{0, -1}, {0xff0000, 0}, {0x00ff00, 120}, {0x0000ff, 240}, {0xffff00, 60}, {0xff00ff, 300}, {0x808080, 0},
	}
	for _, tt := range tests {
		if got := hue(tt.rgb); got != tt.want {
			t.Errorf("hue(%06x) = %v, want %v", tt.rgb, got, tt.want)
		}
	}
}

// TestRolesAsHats: a member with a named role that may manage messages
// is a moderator, and the role is their hat, with its colour's hue.
func TestRolesAsHats(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	alice, _, err := n.newSession(login{token: sc.Alice.Token})
	if err != nil {
		t.Fatal(err)
	}
	red, perms := 0xff0000, int64(discordgo.PermissionManageMessages)
	role, err := alice.GuildRoleCreate(sc.GuildID, &discordgo.RoleParams{Name: "mods", Color: &red, Permissions: &perms})
	if err != nil {
		t.Fatalf("creating a role: %v", err)
	}
	if err := alice.GuildMemberRoleAdd(sc.GuildID, sc.Bob.ID, role.ID); err != nil {
		t.Fatalf("giving bob the role: %v", err)
	}
	s := newSink()
	a := connect(t, n, botCreds(sc), s)
	room := ChannelID(sc.ChannelID, sc.GuildID)
	if err := a.JoinRoom(context.Background(), room, ""); err != nil {
		t.Fatal(err)
	}
	bob := await(t, s, func(ev *transports.OccupantEvent) bool { return ev.Nick == "bob" })
	want := []transports.Hat{{ID: role.ID, Title: "mods", Hue: 0}}
	if bob.Role != transports.RoleModerator || bob.Affiliation != transports.AffiliationMember || !slices.Equal(bob.Hats, want) {
		t.Errorf("bob = role %v, affiliation %v, hats %+v; want a moderating member with %+v", bob.Role, bob.Affiliation, bob.Hats, want)
	}

	// A second role, given while the room is shown, is a second hat.
	blue := 0x0000ff
	helpers, err := alice.GuildRoleCreate(sc.GuildID, &discordgo.RoleParams{Name: "helpers", Color: &blue})
	if err != nil {
		t.Fatal(err)
	}
	from := len(s.all())
	if err := alice.GuildMemberRoleAdd(sc.GuildID, sc.Bob.ID, helpers.ID); err != nil {
		t.Fatal(err)
	}
	again := awaitFrom(t, s, from, func(ev *transports.OccupantEvent) bool { return ev.Nick == "bob" })
	if len(again.Hats) != 2 || again.NewNick != "" || again.Left {
		t.Errorf("after the second role: %+v", again)
	} else if hats := map[string]float64{again.Hats[0].Title: again.Hats[0].Hue, again.Hats[1].Title: again.Hats[1].Hue}; hats["mods"] != 0 || hats["helpers"] != 240 {
		t.Errorf("hats %+v; want mods (hue 0) and helpers (hue 240)", again.Hats)
	}
}
