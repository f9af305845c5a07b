package config

import (
	"strings"
	"testing"
)

func TestParseArchive(t *testing.T) {
	base := "[xmpp]\nserver = \"localhost:5347\"\n[irc]\ndomain = \"irc.localhost\"\nsecret = \"x\"\n"
	for _, tc := range []struct {
		name, toml    string
		on            bool
		days, perRoom int
	}{
		{"defaults", base, true, DefaultArchiveDays, DefaultArchivePerRoom},
		{"set", base + "[archive]\ndays = 7\nmax_messages_per_room = 200\n", true, 7, 200},
		{"off", base + "[archive]\nenabled = false\n", false, DefaultArchiveDays, DefaultArchivePerRoom},
		{"on", base + "[archive]\nenabled = true\n", true, DefaultArchiveDays, DefaultArchivePerRoom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("f", []byte(tc.toml), testNets)
			if err != nil {
				t.Fatal(err)
			}
			if c.Archive.On() != tc.on || c.Archive.Days != tc.days || c.Archive.MaxMessagesPerRoom != tc.perRoom {
				t.Errorf("archive %+v (on %v), want on %v, %d days, %d per room", c.Archive, c.Archive.On(), tc.on, tc.days, tc.perRoom)
			}
		})
	}
	for _, tc := range []struct{ toml, want string }{
		{"[archive]\ndays = -1\n" + base, "f:2: archive.days: must not be negative"},
		{"[archive]\nmax_messages_per_room = -3\n" + base, "f:2: archive.max_messages_per_room: must not be negative"},
		{"[archive]\nsize = 3\n" + base, "f:2: unknown key \"archive.size\""},
	} {
		_, err := Parse("f", []byte(tc.toml), testNets)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): err = %v, want it to contain %q", tc.toml, err, tc.want)
		}
	}
}
