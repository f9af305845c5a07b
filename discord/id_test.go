package discord

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		id   transports.ID
		want Address
		bad  bool
	}{
		{id: "80351110224678912", want: Address{Kind: transports.KindContact, User: "80351110224678912"}},
		{id: "1", want: Address{Kind: transports.KindContact, User: "1"}},
		{id: "18446744073709551615", want: Address{Kind: transports.KindContact, User: "18446744073709551615"}},
		{id: "41771983423143937%41771983423143936", want: Address{Kind: transports.KindRoom, Channel: "41771983423143937", Guild: "41771983423143936"}},
		{id: "319674150115610528%dm", want: Address{Kind: transports.KindRoom, Channel: "319674150115610528"}},
		{id: "41771983423143936%guild", want: Address{Kind: transports.KindServer, Guild: "41771983423143936"}},
		{id: "", bad: true},
		{id: "0", bad: true},
		{id: "012", bad: true},
		{id: "18446744073709551616", bad: true}, // uint64 overflow
		{id: "-5", bad: true},
		{id: "+5", bad: true},
		{id: "12a", bad: true},
		{id: "%12", bad: true},
		{id: "12%", bad: true},
		{id: "12%DM", bad: true},
		{id: "12%Guild", bad: true},
		{id: "12%13%14", bad: true},
		{id: "dm%12", bad: true},
		{id: "guild%12", bad: true},
		{id: "12 ", bad: true},
		{id: "١٢", bad: true}, // Arabic-Indic digits
		{id: "alice", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseID(tt.id)
		if tt.bad {
			if !errors.Is(err, transports.ErrInvalidInput) {
				t.Errorf("ParseID(%q) = %+v, %v; want an error wrapping ErrInvalidInput", tt.id, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseID(%q) = %+v, %v; want %+v", tt.id, got, err, tt.want)
			continue
		}
		if back := got.ID(); back != tt.id {
			t.Errorf("ParseID(%q).ID() = %q", tt.id, back)
		}
	}
}

func TestFormatters(t *testing.T) {
	tests := []struct {
		got, want transports.ID
		kind      transports.IDKind
	}{
		{UserID("7"), "7", transports.KindContact},
		{ChannelID("8", "9"), "8%9", transports.KindRoom},
		{GroupID("8"), "8%dm", transports.KindRoom},
		{GuildID("9"), "9%guild", transports.KindServer},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
		a, err := ParseID(tt.got)
		if err != nil || a.Kind != tt.kind {
			t.Errorf("ParseID(%q) = %+v, %v; want kind %v", tt.got, a, err, tt.kind)
		}
	}
	if a, _ := ParseID(GroupID("8")); !a.Group() {
		t.Errorf("GroupID is not a group")
	}
	if a, _ := ParseID(ChannelID("8", "9")); a.Group() {
		t.Errorf("a guild channel is a group")
	}
}

func TestErrorQuotesACut(t *testing.T) {
	_, err := ParseID(transports.ID(strings.Repeat("x", 500)))
	if err == nil || !strings.Contains(err.Error(), strings.Repeat("x", 64)) || strings.Contains(err.Error(), strings.Repeat("x", 65)) {
		t.Fatalf("ParseID of 500 bytes: %v; want 64 of them quoted", err)
	}
}

// FuzzParseID checks that whatever a peer or user writes, ParseID either
// refuses it or returns an Address that formats back to the same ID.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "12%34", "12%dm", "12%guild", "", "%", "0%0", "18446744073709551616%1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseID(transports.ID(s))
		if err != nil {
			if !errors.Is(err, transports.ErrInvalidInput) {
				t.Fatalf("ParseID(%q): %v does not wrap ErrInvalidInput", s, err)
			}
			return
		}
		if back := a.ID(); string(back) != s {
			t.Fatalf("ParseID(%q).ID() = %q", s, back)
		}
		named := map[transports.IDKind]string{transports.KindContact: a.User, transports.KindRoom: a.Channel, transports.KindServer: a.Guild}[a.Kind]
		if !IsSnowflake(named) || (a.Guild != "" && !IsSnowflake(a.Guild)) {
			t.Fatalf("ParseID(%q) = %+v: not snowflakes", s, a)
		}
	})
}
