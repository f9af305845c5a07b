package discord

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestRoomBothWays: a bot's session joins a guild channel and sees its
// members and topic; messages, edits, deletions, reactions, replies and
// typing go both ways with Bob, a user on the same Spacebar.
func TestRoomBothWays(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	bob := newPeer(t, n, sc.Bob)
	alice, _, err := n.newSession(login{token: sc.Alice.Token}) // the guild's owner, over REST
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.ChannelEditComplex(sc.ChannelID, &discordgo.ChannelEdit{Topic: "all things test"}); err != nil {
		t.Fatalf("setting the topic: %v", err)
	}
	before, err := bob.ChannelMessageSend(sc.ChannelID, "said before the join")
	if err != nil {
		t.Fatal(err)
	}

	s := newSink()
	a := connect(t, n, botCreds(sc), s)
	room := ChannelID(sc.ChannelID, sc.GuildID)
	if err := a.JoinRoom(context.Background(), room, "ignored"); err != nil {
		t.Fatalf("JoinRoom: %v", err)
	}
	// The occupants come before RoomReady, the subject after it.
	var occupants []*transports.OccupantEvent
	ready, readyAt, subjectAt := (*transports.RoomReadyEvent)(nil), -1, -1
	for i, ev := range s.all() {
		switch ev := ev.(type) {
		case *transports.OccupantEvent:
			if readyAt >= 0 {
				t.Errorf("occupant %q after RoomReady", ev.Nick)
			}
			occupants = append(occupants, ev)
		case *transports.RoomReadyEvent:
			ready, readyAt = ev, i
		case *transports.SubjectEvent:
			if ev.Room != room || ev.Subject != "all things test" {
				t.Errorf("subject = %+v", ev)
			}
			subjectAt = i
		}
	}
	if ready == nil || subjectAt < readyAt {
		t.Fatalf("RoomReady at %d, subject at %d; events: %s", readyAt, subjectAt, describe(s.all()))
	}
	if ready.Nick != "relaybot" || ready.Affiliation != transports.AffiliationAdmin || ready.Role != transports.RoleModerator {
		t.Errorf("RoomReady = %+v; want relaybot, an administrator as admin/moderator", ready)
	}
	byAccount := map[string]*transports.OccupantEvent{}
	for _, o := range occupants {
		byAccount[o.Account] = o
	}
	if o := byAccount[sc.Alice.ID]; o == nil || o.Nick != "alice" || o.Affiliation != transports.AffiliationOwner {
		t.Errorf("alice (the owner) = %+v", o)
	}
	if o := byAccount[sc.Bob.ID]; o == nil || o.Nick != "bob" || o.Affiliation != transports.AffiliationMember || o.Role != transports.RoleParticipant {
		t.Errorf("bob = %+v", o)
	}
	if len(occupants) != 2 {
		t.Errorf("occupants %s; want alice and bob", describe(s.all()[:len(occupants)]))
	}

	t.Run("history", func(t *testing.T) {
		h, err := a.History(context.Background(), room, time.Time{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) == 0 || h[len(h)-1].RemoteID != transports.RemoteID(before.ID) || h[len(h)-1].Nick != "bob" ||
			h[len(h)-1].Body != "said before the join" || !h[len(h)-1].Time.Equal(before.Timestamp) {
			t.Fatalf("History = %+v; want bob's message last with its time %v", h, before.Timestamp)
		}
		later, err := a.History(context.Background(), room, before.Timestamp.Add(time.Second), 10)
		if err != nil || len(later) != 0 {
			t.Errorf("History since after the message = %+v, %v; want none", later, err)
		}
	})

	t.Run("from Discord", func(t *testing.T) {
		m, err := bob.ChannelMessageSend(sc.ChannelID, "hello <@"+sc.Bot.ID+"> and <#"+sc.ChannelID+">")
		if err != nil {
			t.Fatal(err)
		}
		got := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(m.ID) })
		if got.From != room || !got.Room || got.Nick != "bob" || got.OccupantID != sc.Bob.ID || got.Body != "hello @relaybot and #general" || !got.Mention || got.Own {
			t.Errorf("MessageEvent = %+v", got)
		}
	})

	t.Run("to Discord, echoed as own", func(t *testing.T) {
		id, err := a.Send(context.Background(), transports.Message{To: room, Room: true, Body: "hi @bob", ID: "xmpp-1"})
		if err != nil {
			t.Fatal(err)
		}
		e := bob.next(t, "MESSAGE_CREATE", func(e *discordgo.Event) bool { return e.Struct.(*discordgo.MessageCreate).ID == string(id) })
		if m := e.Struct.(*discordgo.MessageCreate); m.Content != "hi <@"+sc.Bob.ID+">" || m.Author.ID != sc.Bot.ID {
			t.Errorf("bob got %q from %s", m.Content, m.Author.ID)
		}
		echo := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == id })
		if !echo.Own || echo.EchoOf != "xmpp-1" || echo.Body != "hi @bob" {
			t.Errorf("echo = %+v; want Own, EchoOf xmpp-1", echo)
		}
	})

	t.Run("own message from another client", func(t *testing.T) {
		other, _, err := n.newSession(login{token: sc.Bot.Token, bot: true})
		if err != nil {
			t.Fatal(err)
		}
		m, err := other.ChannelMessageSend(sc.ChannelID, "from the other client")
		if err != nil {
			t.Fatal(err)
		}
		got := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(m.ID) })
		if !got.Own || got.EchoOf != "" || got.Nick != "relaybot" || got.Mention {
			t.Errorf("MessageEvent = %+v; want the user's own, echoing no XMPP message", got)
		}
	})

	t.Run("reply both ways", func(t *testing.T) {
		orig, err := bob.ChannelMessageSend(sc.ChannelID, "question?")
		if err != nil {
			t.Fatal(err)
		}
		id, err := a.Send(context.Background(), transports.Message{To: room, Room: true, Body: "answer", ReplyTo: transports.RemoteID(orig.ID)})
		if err != nil {
			t.Fatal(err)
		}
		e := bob.next(t, "MESSAGE_CREATE", func(e *discordgo.Event) bool { return e.Struct.(*discordgo.MessageCreate).ID == string(id) })
		if m := e.Struct.(*discordgo.MessageCreate); m.MessageReference == nil || m.MessageReference.MessageID != orig.ID {
			t.Errorf("bob's view of the reply: reference %+v", m.MessageReference)
		}
		r, err := bob.ChannelMessageSendReply(sc.ChannelID, "thanks", &discordgo.MessageReference{MessageID: string(id), ChannelID: sc.ChannelID})
		if err != nil {
			t.Fatal(err)
		}
		got := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(r.ID) })
		if got.ReplyTo != id {
			t.Errorf("reply's ReplyTo = %q, want %q", got.ReplyTo, id)
		}
	})

	t.Run("edit and delete from Discord", func(t *testing.T) {
		m, err := bob.ChannelMessageSend(sc.ChannelID, "tpyo")
		if err != nil {
			t.Fatal(err)
		}
		await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(m.ID) })
		if _, err := bob.ChannelMessageEdit(sc.ChannelID, m.ID, "typo"); err != nil {
			t.Fatal(err)
		}
		ed := await(t, s, func(ev *transports.EditEvent) bool { return ev.Target == transports.RemoteID(m.ID) })
		if ed.From != room || !ed.Room || ed.Nick != "bob" || ed.Body != "typo" || ed.Own {
			t.Errorf("EditEvent = %+v", ed)
		}
		if err := bob.ChannelMessageDelete(sc.ChannelID, m.ID); err != nil {
			t.Fatal(err)
		}
		del := await(t, s, func(ev *transports.RetractEvent) bool { return ev.Target == transports.RemoteID(m.ID) })
		if del.From != room || !del.Room || del.Own || del.Nick != "bob" {
			t.Errorf("RetractEvent = %+v", del)
		}
	})

	t.Run("edit and delete to Discord, echoed as own", func(t *testing.T) {
		id, err := a.Send(context.Background(), transports.Message{To: room, Room: true, Body: "frist"})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Edit(context.Background(), room, id, "first"); err != nil {
			t.Fatalf("Edit: %v", err)
		}
		e := bob.next(t, "MESSAGE_UPDATE", func(e *discordgo.Event) bool { return e.Struct.(*discordgo.MessageUpdate).ID == string(id) })
		if m := e.Struct.(*discordgo.MessageUpdate); m.Content != "first" {
			t.Errorf("bob sees the edit as %q", m.Content)
		}
		ed := await(t, s, func(ev *transports.EditEvent) bool { return ev.Target == id })
		if !ed.Own || ed.Body != "first" {
			t.Errorf("edit echo = %+v", ed)
		}
		if err := a.Retract(context.Background(), room, id); err != nil {
			t.Fatalf("Retract: %v", err)
		}
		bob.next(t, "MESSAGE_DELETE", func(e *discordgo.Event) bool { return e.Struct.(*discordgo.MessageDelete).ID == string(id) })
		del := await(t, s, func(ev *transports.RetractEvent) bool { return ev.Target == id })
		if !del.Own {
			t.Errorf("deletion echo = %+v", del)
		}
		if err := a.Edit(context.Background(), room, id, "gone"); !errors.Is(err, transports.ErrNotFound) {
			t.Errorf("editing a deleted message: %v; want ErrNotFound", err)
		}
	})

	t.Run("a moderator deletes bob's message", func(t *testing.T) {
		m, err := bob.ChannelMessageSend(sc.ChannelID, "spam spam")
		if err != nil {
			t.Fatal(err)
		}
		await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(m.ID) })
		if err := a.ModerateRetract(context.Background(), room, transports.RemoteID(m.ID), "no spam, please"); err != nil {
			t.Fatalf("ModerateRetract: %v", err)
		}
		bob.next(t, "MESSAGE_DELETE", func(e *discordgo.Event) bool { return e.Struct.(*discordgo.MessageDelete).ID == m.ID })
		del := await(t, s, func(ev *transports.RetractEvent) bool { return ev.Target == transports.RemoteID(m.ID) })
		if !del.Moderated || del.By != "relaybot" || del.Reason != "no spam, please" || del.Own || del.Nick != "bob" {
			t.Errorf("RetractEvent = %+v; want moderated by relaybot with the reason", del)
		}
	})

	t.Run("reactions both ways", func(t *testing.T) {
		m, err := bob.ChannelMessageSend(sc.ChannelID, "react to me")
		if err != nil {
			t.Fatal(err)
		}
		await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(m.ID) })
		if err := a.React(context.Background(), room, transports.RemoteID(m.ID), "👍", false); err != nil {
			t.Fatalf("React: %v", err)
		}
		e := bob.next(t, "MESSAGE_REACTION_ADD", nil)
		if r := e.Struct.(*discordgo.MessageReactionAdd); r.MessageID != m.ID || r.Emoji.Name != "👍" || r.UserID != sc.Bot.ID {
			t.Errorf("bob sees reaction %+v", r.MessageReaction)
		}
		if err := bob.MessageReactionAdd(sc.ChannelID, m.ID, "🎉"); err != nil {
			t.Fatal(err)
		}
		got := await(t, s, func(ev *transports.ReactionEvent) bool { return ev.Target == transports.RemoteID(m.ID) })
		if got.Reaction != "🎉" || got.Nick != "bob" || got.Remove || got.From != room {
			t.Errorf("ReactionEvent = %+v", got)
		}
		if err := bob.MessageReactionRemove(sc.ChannelID, m.ID, "🎉", "@me"); err != nil {
			t.Fatal(err)
		}
		await(t, s, func(ev *transports.ReactionEvent) bool { return ev.Target == transports.RemoteID(m.ID) && ev.Remove })

		// The account's own reaction from another client is the user's
		// own; the one made through the adapter (👍) was not news.
		other, _, err := a.n.newSession(login{token: sc.Bot.Token, bot: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := other.MessageReactionAdd(sc.ChannelID, m.ID, "👀"); err != nil {
			t.Fatal(err)
		}
		own := await(t, s, func(ev *transports.ReactionEvent) bool {
			return ev.Target == transports.RemoteID(m.ID) && ev.Reaction == "👀"
		})
		if !own.Own || own.Remove || own.From != room {
			t.Errorf("own reaction from another client = %+v, want Own", own)
		}
		for _, ev := range s.all() {
			if r, ok := ev.(*transports.ReactionEvent); ok && r.Reaction == "👍" {
				t.Errorf("the reaction made through the adapter came back as %+v", r)
			}
		}
	})

	t.Run("typing both ways", func(t *testing.T) {
		if err := a.SetTyping(context.Background(), room, transports.Composing); err != nil {
			t.Fatal(err)
		}
		bob.next(t, "TYPING_START", func(e *discordgo.Event) bool { return e.Struct.(*discordgo.TypingStart).UserID == sc.Bot.ID })
		if err := bob.ChannelTyping(sc.ChannelID); err != nil {
			t.Fatal(err)
		}
		got := await(t, s, func(ev *transports.TypingEvent) bool { return ev.Nick == "bob" })
		if got.From != room || got.State != transports.Composing {
			t.Errorf("TypingEvent = %+v", got)
		}
	})

	t.Run("long bodies split, longer refused", func(t *testing.T) {
		long := strings.Repeat("word ", 500) // 2 500 characters
		id, err := a.Send(context.Background(), transports.Message{To: room, Room: true, Body: long})
		if err != nil {
			t.Fatal(err)
		}
		e := bob.next(t, "MESSAGE_CREATE", func(e *discordgo.Event) bool { return e.Struct.(*discordgo.MessageCreate).ID == string(id) })
		first := e.Struct.(*discordgo.MessageCreate).Content
		e = bob.next(t, "MESSAGE_CREATE", func(e *discordgo.Event) bool { return e.Struct.(*discordgo.MessageCreate).Author.ID == sc.Bot.ID })
		second := e.Struct.(*discordgo.MessageCreate).Content
		if len(first) > 2000 || first+" "+second != strings.TrimSuffix(long, " ") {
			t.Errorf("split into %d + %d characters, not the body", len(first), len(second))
		}
		_, err = a.Send(context.Background(), transports.Message{To: room, Room: true, Body: strings.Repeat("x", 8001)})
		if !errors.Is(err, transports.ErrLimit) || !strings.Contains(err.Error(), "2000 characters") {
			t.Errorf("8001 characters: %v; want ErrLimit naming the limit", err)
		}
	})

	t.Run("files both ways", func(t *testing.T) {
		content := bytes.Repeat([]byte("switchboard "), 1000)
		id, err := a.SendFiles(context.Background(), transports.Message{To: room, Room: true, Body: "a file", Files: []transports.File{{
			Name: "notes.txt", Type: "text/plain", Size: int64(len(content)),
			Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil },
		}}})
		if err != nil {
			t.Fatalf("SendFiles: %v", err)
		}
		e := bob.next(t, "MESSAGE_CREATE", func(e *discordgo.Event) bool { return e.Struct.(*discordgo.MessageCreate).ID == string(id) })
		m := e.Struct.(*discordgo.MessageCreate)
		if len(m.Attachments) != 1 || m.Attachments[0].Filename != "notes.txt" || m.Attachments[0].Size != len(content) {
			t.Fatalf("bob sees attachments %+v", m.Attachments)
		}
		// Bob's file comes back to XMPP as a stream of the same bytes.
		back, err := bob.ChannelMessageSendComplex(sc.ChannelID, &discordgo.MessageSend{Content: "yours", Files: []*discordgo.File{{Name: "back.bin", ContentType: "application/octet-stream", Reader: bytes.NewReader(content)}}})
		if err != nil {
			t.Fatal(err)
		}
		got := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(back.ID) })
		if len(got.Attachments) != 1 || got.Attachments[0].Open == nil || got.Attachments[0].Name != "back.bin" || got.Attachments[0].Size != int64(len(content)) {
			t.Fatalf("attachments = %+v", got.Attachments)
		}
		rc, err := got.Attachments[0].Open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(data, content) {
			t.Errorf("read %d bytes (%v), want the %d sent", len(data), err, len(content))
		}
	})

	t.Run("topic both ways", func(t *testing.T) {
		if err := a.SetSubject(context.Background(), room, "new topic"); err != nil {
			t.Fatalf("SetSubject: %v", err)
		}
		await(t, s, func(ev *transports.SubjectEvent) bool { return ev.Room == room && ev.Subject == "new topic" })
		from := len(s.all()) // the join's subject was this text too
		if _, err := alice.ChannelEditComplex(sc.ChannelID, &discordgo.ChannelEdit{Topic: "all things test"}); err != nil {
			t.Fatal(err)
		}
		awaitFrom(t, s, from, func(ev *transports.SubjectEvent) bool { return ev.Room == room && ev.Subject == "all things test" })
	})

	t.Run("a guild's channels", func(t *testing.T) {
		rooms, err := a.ListRooms(context.Background(), GuildID(sc.GuildID))
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, r := range rooms {
			if r.ID == room {
				found = r.Name == "#general" && r.Topic == "all things test"
			}
			if k, err := n.Kind(r.ID); err != nil || k != transports.KindRoom {
				t.Errorf("listed %q of kind %v, %v", r.ID, k, err)
			}
		}
		if !found {
			t.Errorf("ListRooms = %+v; want #general with its topic", rooms)
		}
		if _, err := a.ListRooms(context.Background(), GuildID("1234567")); !errors.Is(err, transports.ErrNotFound) && !errors.Is(err, transports.ErrForbidden) {
			t.Errorf("ListRooms of a guild the bot is not in: %v", err)
		}
	})

	t.Run("unknown rooms", func(t *testing.T) {
		for _, id := range []transports.ID{
			ChannelID(sc.ChannelID, "1234567"),   // the channel, another guild
			ChannelID("99999999999", sc.GuildID), // no such channel
			GroupID(sc.ChannelID),                // not a group DM
		} {
			err := a.JoinRoom(context.Background(), id, "x")
			if !errors.Is(err, transports.ErrNotFound) && !errors.Is(err, transports.ErrForbidden) {
				t.Errorf("JoinRoom(%s) = %v; want ErrNotFound or ErrForbidden", id, err)
			}
		}
		if err := a.JoinRoom(context.Background(), UserID(sc.Bob.ID), "x"); !errors.Is(err, transports.ErrInvalidInput) {
			t.Errorf("JoinRoom(a user) = %v", err)
		}
		if _, err := a.Send(context.Background(), transports.Message{To: GuildID(sc.GuildID), Body: "x"}); !errors.Is(err, transports.ErrInvalidInput) {
			t.Errorf("Send to a guild = %v", err)
		}
	})

	t.Run("leave", func(t *testing.T) {
		if err := a.LeaveRoom(context.Background(), room); err != nil {
			t.Fatal(err)
		}
		if err := a.LeaveRoom(context.Background(), room); !errors.Is(err, transports.ErrNotFound) {
			t.Errorf("second LeaveRoom = %v", err)
		}
		if _, err := a.Send(context.Background(), transports.Message{To: room, Room: true, Body: "x"}); !errors.Is(err, transports.ErrNotFound) {
			t.Errorf("Send after leaving = %v", err)
		}
	})
}

// TestDirectMessages: DMs both ways; the user's own DM sent through the
// adapter is not delivered back, one written from another client is,
// marked Own.
func TestDirectMessages(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	bob := newPeer(t, n, sc.Bob)
	s := newSink()
	a := connect(t, n, transports.Credentials{fieldToken: sc.Alice.Token, fieldAccount: accountUser}, s)

	id, err := a.Send(context.Background(), transports.Message{To: UserID(sc.Bob.ID), Body: "hi bob", ID: "x1"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	e := bob.next(t, "MESSAGE_CREATE", func(e *discordgo.Event) bool { return e.Struct.(*discordgo.MessageCreate).ID == string(id) })
	dm := e.Struct.(*discordgo.MessageCreate)
	if dm.Content != "hi bob" || dm.GuildID != "" || dm.Author.ID != sc.Alice.ID {
		t.Errorf("bob got %+v", dm.Message)
	}
	r, err := bob.ChannelMessageSend(dm.ChannelID, "hi alice")
	if err != nil {
		t.Fatal(err)
	}
	got := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(r.ID) })
	if got.From != UserID(sc.Bob.ID) || got.Room || got.Own || got.Body != "hi alice" || got.Nick != "bob" {
		t.Errorf("MessageEvent = %+v", got)
	}

	// Alice writes from another client (her own session).
	other, _, err := n.newSession(login{token: sc.Alice.Token})
	if err != nil {
		t.Fatal(err)
	}
	o, err := other.ChannelMessageSend(dm.ChannelID, "from my phone")
	if err != nil {
		t.Fatal(err)
	}
	own := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(o.ID) })
	if !own.Own || own.From != UserID(sc.Bob.ID) || own.EchoOf != "" {
		t.Errorf("own message from another client = %+v", own)
	}
	for _, ev := range s.all() {
		if m, ok := ev.(*transports.MessageEvent); ok && m.RemoteID == id {
			t.Errorf("the adapter's own DM came back: %+v", m)
		}
	}

	if err := bob.ChannelMessageDelete(dm.ChannelID, r.ID); err != nil {
		t.Fatal(err)
	}
	del := await(t, s, func(ev *transports.RetractEvent) bool { return ev.Target == transports.RemoteID(r.ID) })
	if del.From != UserID(sc.Bob.ID) || del.Room || del.Own {
		t.Errorf("RetractEvent = %+v", del)
	}
	if _, err := a.Send(context.Background(), transports.Message{To: UserID("424242424242"), Body: "x"}); err == nil {
		t.Errorf("Send to an unknown user worked")
	}
}

// TestMembersChange: a shown member's nick change and leaving the guild
// reach the room as occupant events.
func TestMembersChange(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	bob := newPeer(t, n, sc.Bob)
	s := newSink()
	a := connect(t, n, botCreds(sc), s)
	room := ChannelID(sc.ChannelID, sc.GuildID)
	if err := a.JoinRoom(context.Background(), room, ""); err != nil {
		t.Fatal(err)
	}

	// Presence: Spacebar's PRESENCE_UPDATE carries no status (see
	// TestPresenceShown).
	if err := bob.GuildMemberNickname(sc.GuildID, "@me", "bobby"); err != nil {
		t.Fatal(err)
	}
	renamed := await(t, s, func(ev *transports.OccupantEvent) bool { return ev.NewNick != "" })
	if renamed.Nick != "bob" || renamed.NewNick != "bobby" || renamed.Self {
		t.Errorf("nick change as %+v", renamed)
	}
	m, err := bob.ChannelMessageSend(sc.ChannelID, "new name")
	if err != nil {
		t.Fatal(err)
	}
	if got := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(m.ID) }); got.Nick != "bobby" {
		t.Errorf("message after the rename from %q", got.Nick)
	}

	if err := bob.GuildLeave(sc.GuildID); err != nil {
		t.Fatal(err)
	}
	left := await(t, s, func(ev *transports.OccupantEvent) bool { return ev.Left })
	if left.Nick != "bobby" || left.Self {
		t.Errorf("leaving as %+v", left)
	}
}

// TestGroupDM: a group DM is a room: its recipients are the occupants,
// its name the subject, and messages go both ways.
func TestGroupDM(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	carol := sbCarol
	bob := newPeer(t, n, sc.Bob)
	var group discordgo.Channel
	body, err := bob.RequestWithBucketID("POST", "https://discord.com/api/v9/users/@me/channels",
		map[string]any{"recipients": []string{sc.Alice.ID, carol.ID}}, "")
	if err != nil {
		t.Fatalf("creating a group DM: %v", err)
	}
	if err := discordgo.Unmarshal(body, &group); err != nil || group.Type != discordgo.ChannelTypeGroupDM {
		t.Fatalf("created %+v (%v); want a group DM", group, err)
	}
	s := newSink()
	a := connect(t, n, transports.Credentials{fieldToken: sc.Alice.Token, fieldAccount: accountUser}, s)
	room := GroupID(group.ID)
	if err := a.JoinRoom(context.Background(), room, ""); err != nil {
		t.Fatalf("JoinRoom: %v", err)
	}
	ready := await(t, s, func(ev *transports.RoomReadyEvent) bool { return ev.Room == room })
	if ready.Nick != "alice" || ready.Affiliation != transports.AffiliationMember {
		t.Errorf("RoomReady = %+v", ready)
	}
	nicks := map[string]bool{}
	for _, ev := range s.all() {
		if o, ok := ev.(*transports.OccupantEvent); ok && o.Room == room {
			nicks[o.Nick] = true
		}
	}
	if len(nicks) != 2 || !nicks["bob"] || !nicks["carol"] {
		t.Errorf("occupants %v; want bob and carol", nicks)
	}
	m, err := bob.ChannelMessageSend(group.ID, "hello group")
	if err != nil {
		t.Fatal(err)
	}
	got := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(m.ID) })
	if got.From != room || !got.Room || got.Nick != "bob" {
		t.Errorf("MessageEvent = %+v", got)
	}
	id, err := a.Send(context.Background(), transports.Message{To: room, Room: true, Body: "hi both", ID: "g1"})
	if err != nil {
		t.Fatal(err)
	}
	bob.next(t, "MESSAGE_CREATE", func(e *discordgo.Event) bool { return e.Struct.(*discordgo.MessageCreate).ID == string(id) })
	if echo := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == id }); !echo.Own || echo.EchoOf != "g1" {
		t.Errorf("echo = %+v", echo)
	}
}

// TestMentionInUnjoinedChannel: a message that mentions the user in a
// guild channel they have not joined as a room is delivered, marked as a
// mention, with its readable text; other chatter there is not.
func TestMentionInUnjoinedChannel(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	bob := newPeer(t, n, sc.Bob)
	s := newSink()
	connect(t, n, botCreds(sc), s)
	if _, err := bob.ChannelMessageSend(sc.ChannelID, "just chatter"); err != nil {
		t.Fatal(err)
	}
	m, err := bob.ChannelMessageSend(sc.ChannelID, "<@"+sc.Bot.ID+"> look here")
	if err != nil {
		t.Fatal(err)
	}
	got := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(m.ID) })
	if !got.Room || !got.Mention || got.From != ChannelID(sc.ChannelID, sc.GuildID) || !strings.HasSuffix(got.Body, "look here") || got.Nick == "" {
		t.Errorf("mention delivered as %+v", got)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.events {
		if me, ok := ev.(*transports.MessageEvent); ok && me.Body == "just chatter" {
			t.Errorf("chatter of an unjoined channel delivered: %+v", me)
		}
	}
}

// TestCappedMembersRecentFirst: in a guild bigger than max_members, the
// room shows the channel's recent authors before the members the server
// lists first (Spacebar sends no statuses, so online-first is the fake's
// TestCappedMembersOnlineFirst).
func TestCappedMembersRecentFirst(t *testing.T) {
	sb := spacebar(t)
	sc := scene(t, sb)
	sb.JoinGuild(t, sc.Alice, sbCarol, sc.ChannelID)
	n, err := New(Config{ServerURL: sb.BaseURL(), Timeout: 20 * time.Second, MaxMembers: 2})
	if err != nil {
		t.Fatal(err)
	}
	owner, _, err := n.newSession(login{token: sc.Alice.Token})
	if err != nil {
		t.Fatal(err)
	}
	all, err := owner.GuildMembers(sc.GuildID, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("the guild has %d members, want 4 (alice, bob, carol, the bot)", len(all))
	}
	// The last listed person speaks: shown in the server's order, they
	// would not be among the first two.
	var quiet testenv.SpacebarUser
	for i := len(all) - 1; i >= 0 && quiet.ID == ""; i-- {
		for _, u := range []testenv.SpacebarUser{sc.Alice, sc.Bob, sbCarol} {
			if u.ID == all[i].User.ID {
				quiet = u
			}
		}
	}
	if quiet.ID == "" || quiet.ID == all[0].User.ID || quiet.ID == all[1].User.ID {
		t.Fatalf("no person after the first two listed members: %v", all)
	}
	speaker, _, err := n.newSession(login{token: quiet.Token})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := speaker.ChannelMessageSend(sc.ChannelID, "I am here"); err != nil {
		t.Fatal(err)
	}

	s := newSink()
	a := connect(t, n, botCreds(sc), s)
	room := ChannelID(sc.ChannelID, sc.GuildID)
	if err := a.JoinRoom(context.Background(), room, ""); err != nil {
		t.Fatal(err)
	}
	var shown []string
	var ready *transports.RoomReadyEvent
	for _, ev := range s.all() {
		switch ev := ev.(type) {
		case *transports.OccupantEvent:
			if ev.Room == room {
				shown = append(shown, ev.Account)
			}
		case *transports.RoomReadyEvent:
			ready = ev
		}
	}
	if ready == nil {
		t.Fatal("no RoomReadyEvent")
	}
	if ready.Members < 3 {
		t.Errorf("RoomReadyEvent.Members = %d, want at least 3 (the room is capped)", ready.Members)
	}
	if len(shown) > 2 || !slices.Contains(shown, quiet.ID) {
		t.Errorf("occupants %v: want at most 2 with %s (%s), the recent author", shown, quiet.ID, quiet.Name)
	}
}

// TestCustomEmojiReaction: a guild's custom emoji is a reaction both
// ways, written :name: on the XMPP side; an unknown name is refused.
func TestCustomEmojiReaction(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	owner, _, err := n.newSession(login{token: sc.Alice.Token})
	if err != nil {
		t.Fatal(err)
	}
	const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
	emoji, err := owner.GuildEmojiCreate(sc.GuildID, &discordgo.EmojiParams{Name: "blob", Image: "data:image/png;base64," + png})
	if err != nil {
		t.Fatalf("creating the emoji: %v", err)
	}
	bob := newPeer(t, n, sc.Bob)
	s := newSink()
	a := connect(t, n, botCreds(sc), s)
	room := ChannelID(sc.ChannelID, sc.GuildID)
	if err := a.JoinRoom(context.Background(), room, ""); err != nil {
		t.Fatal(err)
	}
	m, err := bob.ChannelMessageSend(sc.ChannelID, "custom?")
	if err != nil {
		t.Fatal(err)
	}
	await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(m.ID) })

	if err := a.React(context.Background(), room, transports.RemoteID(m.ID), ":blob:", false); err != nil {
		t.Fatalf("React :blob: = %v", err)
	}
	e := bob.next(t, "MESSAGE_REACTION_ADD", nil)
	if r := e.Struct.(*discordgo.MessageReactionAdd); r.Emoji.ID != emoji.ID || r.UserID != sc.Bot.ID {
		t.Errorf("bob sees %+v, want the custom emoji %s", r.MessageReaction, emoji.ID)
	}
	if err := bob.MessageReactionAdd(sc.ChannelID, m.ID, "blob:"+emoji.ID); err != nil {
		t.Fatal(err)
	}
	got := await(t, s, func(ev *transports.ReactionEvent) bool { return ev.Target == transports.RemoteID(m.ID) })
	if got.Reaction != ":blob:" || got.Nick != "bob" || got.Own {
		t.Errorf("ReactionEvent = %+v, want bob's :blob:", got)
	}
	for _, tt := range []struct {
		reaction string
		want     error
	}{
		{":nope:", transports.ErrNotFound},
		{"::", transports.ErrInvalidInput},
		{":half", transports.ErrInvalidInput},
	} {
		if err := a.React(context.Background(), room, transports.RemoteID(m.ID), tt.reaction, false); !errors.Is(err, tt.want) {
			t.Errorf("React %q = %v, want %v", tt.reaction, err, tt.want)
		}
	}
}

// TestRoomCaughtUpAfterRestart: a room the process stopped in gets what
// was said meanwhile when it is joined again (after its last delivered
// message, once); a room the user left does not.
func TestRoomCaughtUpAfterRestart(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	bob := newPeer(t, n, sc.Bob)
	store := &transportstest.Store{} // shared by the sessions, as storage is across a restart
	room := ChannelID(sc.ChannelID, sc.GuildID)
	start := func(s *sink) transports.Adapter {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ad, err := n.Connect(ctx, transports.Account{User: "tester@example.org", Credentials: botCreds(sc), Store: store}, s)
		if err != nil {
			t.Fatal(err)
		}
		if err := ad.(*adapter).JoinRoom(ctx, room, ""); err != nil {
			t.Fatal(err)
		}
		return ad
	}
	say := func(text string) string {
		t.Helper()
		m, err := bob.ChannelMessageSend(sc.ChannelID, text)
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	said := func(s *sink) []string {
		var out []string
		for _, ev := range s.all() {
			if m, ok := ev.(*transports.MessageEvent); ok && m.From == room {
				out = append(out, m.Body)
			}
		}
		return out
	}

	s1 := newSink()
	first := start(s1)
	seen := say("before the stop")
	await(t, s1, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(seen) })
	first.Close()
	say("while down 1")
	last := say("while down 2")

	s2 := newSink()
	second := start(s2)
	await(t, s2, func(ev *transports.MessageEvent) bool { return ev.RemoteID == transports.RemoteID(last) })
	if got := said(s2); !slices.Equal(got, []string{"while down 1", "while down 2"}) {
		t.Errorf("after the restart the room got %q, want what was said while down, once", got)
	}
	if err := second.(*adapter).LeaveRoom(context.Background(), room); err != nil {
		t.Fatal(err)
	}
	second.Close()
	say("after leaving")

	s3 := newSink()
	third := start(s3)
	defer third.Close()
	// A catch-up runs within JoinRoom: it would have delivered by now.
	if got := said(s3); len(got) != 0 {
		t.Errorf("a room joined again after leaving got %q, want nothing caught up", got)
	}
}
