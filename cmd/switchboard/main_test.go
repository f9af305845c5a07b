package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("[xmpp]\nserver = \"127.0.0.1:5347\"\n[irc]\ndomain = \"irc.localhost\"\nsecret = \"s3cret\"\n"), 0o600)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[xmpp]\nserver = \"127.0.0.1:5347\"\n[irc]\ndomian = \"irc.localhost\"\nsecret = \"s3cret\"\n"), 0o600)
	crossed := filepath.Join(dir, "crossed.toml")
	os.WriteFile(crossed, []byte("[xmpp]\nserver = \"127.0.0.1:5347\"\n[email]\ndomain = \"email.localhost\"\nsecret = \"s3cret\"\nservers = {}\n"), 0o600)

	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{args: []string{"version"}, code: 0, out: "switchboard "},
		{args: []string{"check-config", "--config", good}, code: 0, out: "configuration OK"},
		{args: []string{"check-config", "--config", bad}, code: 1, err: `bad.toml:4: unknown key "irc.domian"`},
		{args: []string{"check-config", "--config", crossed}, code: 1, err: `crossed.toml:6: unknown key "email.servers"`},
		{args: []string{"check-config", "--config", filepath.Join(dir, "missing.toml")}, code: 1, err: "no such file"},
		{args: []string{"run", "--config", bad}, code: 1, err: "bad.toml:4"},
		{args: []string{"frobnicate"}, code: 2, err: "unknown command"},
		{args: nil, code: 2, err: "usage"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.out) || !strings.Contains(errb.String(), tt.err) {
				t.Errorf("stdout %q, stderr %q; want %q / %q", out.String(), errb.String(), tt.out, tt.err)
			}
			if strings.Contains(errb.String()+out.String(), "s3cret") {
				t.Error("the component secret was printed")
			}
		})
	}
}
