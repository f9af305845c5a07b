package email

import (
	"slices"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // "key: message", sorted
	}{
		{name: "empty", cfg: Config{}},
		{name: "good", cfg: Config{DefaultIMAP: "imap.example.org:993", DefaultSMTP: "[::1]:465", Limits: Limits{MaxBody: 10}}},
		{name: "no ports", cfg: Config{DefaultIMAP: "imap.example.org", DefaultSMTP: "smtp.example.org:"},
			want: []string{
				`default_imap_server: "imap.example.org" is not host:port`,
				`default_smtp_server: "smtp.example.org:" is not host:port`,
			}},
		{name: "absolute temp_dir", cfg: Config{TempDir: "/var/spool/switchboard"}},
		{name: "relative temp_dir", cfg: Config{TempDir: "spool"},
			want: []string{`temp_dir: "spool" is not an absolute path`}},
		{name: "negative body", cfg: Config{Limits: Limits{MaxBody: -1}},
			want: []string{"max_body_bytes: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tt.cfg.Check(func(key, msg string) { got = append(got, key+": "+msg) })
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
