package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// TestStatus: `switchboard status` reads the leases from a real Redis:
// the holder of a held domain with its token, a domain nobody holds, and
// the running instances (not one whose announcement expired); with bbolt
// it says there is nothing to show.
func TestStatus(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	st, err := redis.Open(t.Context(), redis.Options{URL: "redis://" + srv.Addr(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, ok, err := st.AcquireLease(t.Context(), "irc.localhost", "gw-a", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	for _, in := range []string{"gw-b", "gw-a"} {
		if err := st.Announce(t.Context(), in, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Announce(t.Context(), "gw-gone", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // gw-gone's announcement expires
	dir := t.TempDir()
	nets := "[irc]\ndomain = \"irc.localhost\"\nsecret = \"s3cret\"\n[email]\ndomain = \"email.localhost\"\nsecret = \"s3cret\"\ndefault_imap_server = \"127.0.0.1:1\"\n"
	onRedis := filepath.Join(dir, "redis.toml")
	os.WriteFile(onRedis, []byte("[xmpp]\nserver = \"127.0.0.1:5347\"\n[storage]\nurl = \"redis://"+srv.Addr()+"\"\n"+nets), 0o600)
	onBolt := filepath.Join(dir, "bolt.toml")
	os.WriteFile(onBolt, []byte("[xmpp]\nserver = \"127.0.0.1:5347\"\n"+nets), 0o600)

	tests := []struct {
		name string
		file string
		want []string // regular expressions, each matching a line
	}{
		{"redis", onRedis, []string{
			`^storage: Redis ` + regexp.QuoteMeta(srv.Addr()) + `$`,
			fmt.Sprintf(`^irc\.localhost: held by "gw-a"  token %d  since \S+ \(\d+s ago\)  expires in [\d.]+m?s unless renewed  outbox 0$`, l.Token),
			`^email\.localhost: not held \(no instance serves it\)  outbox 0$`,
			`^instance "gw-a": holds irc\.localhost$`,
			`^instance "gw-b": standby$`,
		}},
		{"bolt", onBolt, []string{`^storage is bbolt \(switchboard\.db\): one instance runs every domain; there is no lease to show$`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run([]string{"status", "--config", tt.file}, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			lines := regexp.MustCompile("\n").Split(string(bytes.TrimSuffix(out.Bytes(), []byte("\n"))), -1)
			if len(lines) != len(tt.want) {
				t.Fatalf("status printed %d lines, want %d:\n%s", len(lines), len(tt.want), out.String())
			}
			for i, re := range tt.want {
				if !regexp.MustCompile(re).MatchString(lines[i]) {
					t.Errorf("line %d = %q, want %s", i+1, lines[i], re)
				}
			}
		})
	}
}
