package spacebartest_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/internal/testenv/spacebartest"
)

const eventWait = 10 * time.Second

// TestDiscordgoOnSpacebar proves the harness: an unmodified discordgo
// v0.29.0, pointed at a real Spacebar, logs in a bot and a user and sees
// the other's messages, edits, deletions, direct messages and files.
func TestDiscordgoOnSpacebar(t *testing.T) {
	start := time.Now()
	sb := testenv.StartSpacebar(t)
	t.Logf("spacebar ready after %s (including any build); %s", time.Since(start).Round(time.Millisecond), rss(sb))
	sc := sb.SetupScene(t)

	bot, botEvents := spacebartest.Session(t, sb, "Bot "+sc.Bot.Token)
	if err := bot.Open(); err != nil {
		t.Fatalf("bot IDENTIFY: %v", err)
	}
	ready := spacebartest.Wait[*discordgo.Ready](t, botEvents, "READY", nil, eventWait)
	// READY's guilds are the state's: GUILD_CREATE fills them in under
	// the state's lock.
	bot.State.RLock()
	botUser, guilds := *ready.User, guildIDs(ready.Guilds)
	bot.State.RUnlock()
	if botUser.ID != sc.Bot.ID || !botUser.Bot {
		t.Fatalf("bot READY user = %+v, want the bot %s", botUser, sc.Bot.ID)
	}
	if !slices.Contains(guilds, sc.GuildID) {
		t.Fatalf("bot READY guilds = %v, want guild %s", guilds, sc.GuildID)
	}

	bob, bobEvents := spacebartest.Session(t, sb, sc.Bob.Token)
	if err := bob.Open(); err != nil {
		t.Fatalf("bob IDENTIFY: %v", err)
	}
	bobReady := spacebartest.Wait[*discordgo.Ready](t, bobEvents, "READY", nil, eventWait)
	bob.State.RLock()
	bobUser := *bobReady.User
	bob.State.RUnlock()
	if bobUser.ID != sc.Bob.ID {
		t.Fatalf("bob READY user = %+v, want %s", bobUser, sc.Bob.ID)
	}

	t.Run("user message reaches the bot", func(t *testing.T) {
		sent, err := bob.ChannelMessageSend(sc.ChannelID, "hello from bob")
		if err != nil {
			t.Fatal(err)
		}
		got := spacebartest.Wait(t, botEvents, "MESSAGE_CREATE", func(m *discordgo.MessageCreate) bool { return m.ID == sent.ID }, eventWait)
		if got.Content != "hello from bob" || got.Author == nil || got.Author.ID != sc.Bob.ID ||
			got.ChannelID != sc.ChannelID || got.GuildID != sc.GuildID {
			t.Errorf("MESSAGE_CREATE = content %q author %+v channel %s guild %s; want bob's text in %s/%s",
				got.Content, got.Author, got.ChannelID, got.GuildID, sc.GuildID, sc.ChannelID)
		}
	})

	t.Run("bot edits and deletes, user sees", func(t *testing.T) {
		sent, err := bot.ChannelMessageSend(sc.ChannelID, "first words")
		if err != nil {
			t.Fatal(err)
		}
		created := spacebartest.Wait(t, bobEvents, "MESSAGE_CREATE", func(m *discordgo.MessageCreate) bool { return m.ID == sent.ID }, eventWait)
		if created.Content != "first words" || created.Author == nil || created.Author.ID != sc.Bot.ID {
			t.Fatalf("bob's MESSAGE_CREATE = %q by %+v, want the bot's text", created.Content, created.Author)
		}
		if _, err := bot.ChannelMessageEdit(sc.ChannelID, sent.ID, "second thoughts"); err != nil {
			t.Fatal(err)
		}
		updated := spacebartest.Wait(t, bobEvents, "MESSAGE_UPDATE", func(m *discordgo.MessageUpdate) bool { return m.ID == sent.ID }, eventWait)
		if updated.Content != "second thoughts" || updated.EditedTimestamp == nil {
			t.Errorf("MESSAGE_UPDATE = %q edited %v, want the new text with an edit time", updated.Content, updated.EditedTimestamp)
		}
		if err := bot.ChannelMessageDelete(sc.ChannelID, sent.ID); err != nil {
			t.Fatal(err)
		}
		deleted := spacebartest.Wait(t, bobEvents, "MESSAGE_DELETE", func(m *discordgo.MessageDelete) bool { return m.ID == sent.ID }, eventWait)
		if deleted.ChannelID != sc.ChannelID {
			t.Errorf("MESSAGE_DELETE channel = %s, want %s", deleted.ChannelID, sc.ChannelID)
		}
		if _, err := bot.ChannelMessage(sc.ChannelID, sent.ID); err == nil {
			t.Errorf("the deleted message can still be fetched")
		}
	})

	t.Run("direct messages both ways", func(t *testing.T) {
		dm, err := bot.UserChannelCreate(sc.Bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		if dm.Type != discordgo.ChannelTypeDM || !slices.ContainsFunc(dm.Recipients, func(u *discordgo.User) bool { return u.ID == sc.Bob.ID }) {
			t.Fatalf("DM channel = type %d recipients %v, want a DM with bob", dm.Type, dm.Recipients)
		}
		sent, err := bot.ChannelMessageSend(dm.ID, "psst, bob")
		if err != nil {
			t.Fatal(err)
		}
		got := spacebartest.Wait(t, bobEvents, "MESSAGE_CREATE", func(m *discordgo.MessageCreate) bool { return m.ID == sent.ID }, eventWait)
		if got.Content != "psst, bob" || got.GuildID != "" || got.ChannelID != dm.ID {
			t.Errorf("bob's DM MESSAGE_CREATE = %q guild %q channel %s, want the text outside any guild in %s", got.Content, got.GuildID, got.ChannelID, dm.ID)
		}
		back, err := bob.UserChannelCreate(sc.Bot.ID)
		if err != nil {
			t.Fatal(err)
		}
		if back.ID != dm.ID {
			t.Errorf("bob's DM channel with the bot = %s, the bot's with bob = %s, want one channel", back.ID, dm.ID)
		}
		reply, err := bob.ChannelMessageSend(back.ID, "what is it?")
		if err != nil {
			t.Fatal(err)
		}
		got = spacebartest.Wait(t, botEvents, "MESSAGE_CREATE", func(m *discordgo.MessageCreate) bool { return m.ID == reply.ID }, eventWait)
		if got.Content != "what is it?" || got.GuildID != "" || got.Author == nil || got.Author.ID != sc.Bob.ID {
			t.Errorf("bot's DM MESSAGE_CREATE = %q guild %q author %+v, want bob's text outside any guild", got.Content, got.GuildID, got.Author)
		}
	})

	t.Run("file upload and download", func(t *testing.T) {
		tests := []struct {
			name        string
			from        *discordgo.Session
			to          *spacebartest.Recorder
			file, ctype string
			size        int
			fromID      string
		}{
			{name: "user to bot", from: bob, to: botEvents, file: "notes.bin", ctype: "application/octet-stream", size: 40_000, fromID: sc.Bob.ID},
			{name: "bot to user", from: bot, to: bobEvents, file: "report.txt", ctype: "text/plain", size: 1_000, fromID: sc.Bot.ID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				data := make([]byte, tt.size)
				rand.Read(data)
				sent, err := tt.from.ChannelMessageSendComplex(sc.ChannelID, &discordgo.MessageSend{
					Content: "a file",
					Files:   []*discordgo.File{{Name: tt.file, ContentType: tt.ctype, Reader: bytes.NewReader(data)}},
				})
				if err != nil {
					t.Fatal(err)
				}
				got := spacebartest.Wait(t, tt.to, "MESSAGE_CREATE", func(m *discordgo.MessageCreate) bool { return m.ID == sent.ID }, eventWait)
				if got.Author == nil || got.Author.ID != tt.fromID || len(got.Attachments) != 1 {
					t.Fatalf("MESSAGE_CREATE author %+v attachments %d, want 1 from %s", got.Author, len(got.Attachments), tt.fromID)
				}
				a := got.Attachments[0]
				if a.Filename != tt.file || a.Size != tt.size || !strings.HasPrefix(a.URL, sb.BaseURL()) {
					t.Errorf("attachment = %s, %d bytes at %s; want %s, %d bytes on %s", a.Filename, a.Size, a.URL, tt.file, tt.size, sb.BaseURL())
				}
				resp, err := (&http.Client{Timeout: eventWait}).Get(a.URL)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
					t.Errorf("GET %s = %s, %d bytes (equal: %v); want the %d bytes sent", a.URL, resp.Status, len(body), bytes.Equal(body, data), len(data))
				}
			})
		}
	})
}

func guildIDs(gs []*discordgo.Guild) []string {
	var ids []string
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	return ids
}

// rss reports the resident memory of Spacebar's node and PostgreSQL's
// postmaster (its backends are not counted), for the test log.
func rss(sb *testenv.Spacebar) string {
	node, pg := sb.PIDs()
	return "RSS node " + vmRSS(node) + ", postmaster " + vmRSS(pg)
}

func vmRSS(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
