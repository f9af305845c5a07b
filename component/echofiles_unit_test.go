package component

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// TestReuseSent: an echo's attachments take the links of the files the
// user sent, in order when there are as many, else by name, each sent
// file once; the others are left to upload.
func TestReuseSent(t *testing.T) {
	sent := []transports.File{
		{Name: "a.txt", Type: "text/plain", Size: 1, URL: "https://up/a"},
		{Name: "b.png", Type: "image/png", Size: 2, URL: "https://up/b"},
		{Name: "a.txt", Type: "text/plain", Size: 3, URL: "https://up/a2"},
	}
	att := func(name string) transports.Attachment { return transports.Attachment{Name: name} }
	tests := []struct {
		name         string
		sent         []transports.File
		atts         []transports.Attachment
		reused, rest []string // URLs reused; names left
	}{
		{"as many: in order, whatever the names", sent, []transports.Attachment{att("x"), att("y"), att("z")},
			[]string{"https://up/a", "https://up/b", "https://up/a2"}, nil},
		{"fewer: by name, each sent file once", sent, []transports.Attachment{att("a.txt"), att("a.txt")},
			[]string{"https://up/a", "https://up/a2"}, nil},
		{"fewer: an unknown name is uploaded", sent, []transports.Attachment{att("b.png"), att("c.pdf")},
			[]string{"https://up/b"}, []string{"c.pdf"}},
		{"more than sent", sent[:1], []transports.Attachment{att("a.txt"), att("a.txt")},
			[]string{"https://up/a"}, []string{"a.txt"}},
		{"a sent file without a URL is uploaded", []transports.File{{Name: "a.txt"}}, []transports.Attachment{att("a.txt")},
			nil, []string{"a.txt"}},
		{"nothing sent", nil, []transports.Attachment{att("a.txt")}, nil, []string{"a.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reused, rest := reuseSent(tt.sent, tt.atts)
			var urls, names []string
			for _, a := range reused {
				if a.Open != nil || a.Name == "" {
					t.Errorf("reused %+v: want a named link, no Open", a)
				}
				urls = append(urls, a.URL)
			}
			for _, a := range rest {
				names = append(names, a.Name)
			}
			if !slices.Equal(urls, tt.reused) || !slices.Equal(names, tt.rest) {
				t.Errorf("reused %q, rest %q; want %q, %q", urls, names, tt.reused, tt.rest)
			}
		})
	}
}

// TestSentFiles: a message's files are taken once, by user,
// conversation and ID, until they expire; the table stays bounded.
func TestSentFiles(t *testing.T) {
	var s sentFiles
	now := time.Now()
	f := []transports.File{{Name: "a", URL: "https://up/a"}}
	s.put("u", "#r", "m1", f, now)
	if got := s.take("u", "#r", "m2", now); got != nil {
		t.Errorf("another ID took %v", got)
	}
	if got := s.take("v", "#r", "m1", now); got != nil {
		t.Errorf("another user took %v", got)
	}
	if got := s.take("u", "#other", "m1", now); got != nil {
		t.Errorf("another room took %v", got)
	}
	if got := s.take("u", "#r", "m1", now); len(got) != 1 || got[0].URL != "https://up/a" {
		t.Errorf("take = %v, want the file", got)
	}
	if got := s.take("u", "#r", "m1", now); got != nil {
		t.Errorf("taken twice: %v", got)
	}
	s.put("u", "#r", "old", f, now)
	if got := s.take("u", "#r", "old", now.Add(sentFilesTTL)); got != nil {
		t.Errorf("an expired entry was taken: %v", got)
	}
	s.put("u", "#r", "", f, now)
	if len(s.m) != 0 {
		t.Errorf("a message without ID was kept: %v", s.m)
	}
	for i := range maxSentFiles + 10 {
		s.put("u", "#r", fmt.Sprint(i), f, now.Add(time.Duration(i)*time.Millisecond))
	}
	if len(s.m) != maxSentFiles {
		t.Errorf("%d entries, want at most %d", len(s.m), maxSentFiles)
	}
	if got := s.take("u", "#r", "0", now.Add(time.Minute)); got != nil {
		t.Errorf("the oldest entry survived the bound")
	}
	if got := s.take("u", "#r", fmt.Sprint(maxSentFiles+9), now.Add(time.Minute)); got == nil {
		t.Errorf("the newest entry was dropped")
	}
}
