package config

import (
	"strings"
	"testing"
)

func TestHTTPHookKeys(t *testing.T) {
	const head = "[xmpp]\nserver = \"a:1\"\n[irc]\ndomain = \"irc.localhost\"\nsecret = \"s\"\n[http]\nlisten = \"127.0.0.1:8480\"\n"
	tests := []struct {
		name    string
		http    string
		err     string // substring of the error, with its line; "" for none
		maxBody int64
		hookURL string // HookURL("sms")
	}{
		{"defaults", "", "", DefaultMaxBodyBytes, ""},
		{"behind a proxy", "public_url = \"https://gw.example.org/switchboard/\"\nmax_body_bytes = 4096\n", "", 4096,
			"https://gw.example.org/switchboard/hooks/sms/"},
		{"no trailing slash", "public_url = \"http://gw.example.org\"\n", "", DefaultMaxBodyBytes, "http://gw.example.org/hooks/sms/"},
		{"relative", "public_url = \"/switchboard\"\n", `f.toml:8: http.public_url: "/switchboard" is not an absolute`, 0, ""},
		{"other scheme", "public_url = \"ftp://gw.example.org\"\n", "f.toml:8: http.public_url:", 0, ""},
		{"no host", "public_url = \"https://\"\n", "has no host", 0, ""},
		{"query", "public_url = \"https://gw.example.org/?a=b\"\n", "has a query or fragment", 0, ""},
		{"credentials", "public_url = \"https://u:pw@gw.example.org/\"\n", "holds credentials", 0, ""},
		{"negative body", "max_body_bytes = -1\n", "f.toml:8: http.max_body_bytes: must not be negative", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f.toml", []byte(head+tt.http), testNets)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "pw@") {
					t.Errorf("the error echoes the URL's password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.HTTP.MaxBodyBytes != tt.maxBody {
				t.Errorf("max_body_bytes = %d, want %d", c.HTTP.MaxBodyBytes, tt.maxBody)
			}
			if got := c.HTTP.HookURL("sms"); got != tt.hookURL {
				t.Errorf("HookURL = %q, want %q", got, tt.hookURL)
			}
		})
	}
}
