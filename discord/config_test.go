package discord

import (
	"slices"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // keys with a problem
	}{
		{"empty is Discord", Config{}, nil},
		{"https root", Config{ServerURL: "https://spacebar.example.org"}, nil},
		{"http with port and path", Config{ServerURL: "http://127.0.0.1:3001/sb/", MaxMembers: 10}, nil},
		{"ftp", Config{ServerURL: "ftp://example.org/"}, []string{"server_url"}},
		{"no host", Config{ServerURL: "https:///x"}, []string{"server_url"}},
		{"user info", Config{ServerURL: "https://u:p@example.org/"}, []string{"server_url"}},
		{"query", Config{ServerURL: "https://example.org/?a=b"}, []string{"server_url"}},
		{"relative", Config{ServerURL: "example.org"}, []string{"server_url"}},
		{"negative members", Config{MaxMembers: -1}, []string{"max_members"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tt.cfg.Check(func(key, msg string) {
				if msg == "" {
					t.Errorf("%s: empty message", key)
				}
				got = append(got, key)
			})
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems at %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseServerURLAddsSlash(t *testing.T) {
	u, err := parseServerURL("http://127.0.0.1:3001/sb")
	if err != nil || u.String() != "http://127.0.0.1:3001/sb/" {
		t.Fatalf("parseServerURL = %v, %v", u, err)
	}
}
