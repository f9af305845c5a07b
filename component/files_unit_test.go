package component

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/transports"
)

// TestSharedFilesParse: the files of a message, by namespace and local
// name, one per URL, the richest metadata kept, at most max.
func TestSharedFilesParse(t *testing.T) {
	const (
		u1 = "https://up.example.org/a/photo.jpg"
		u2 = "https://up.example.org/b/doc%20one.pdf"
	)
	sfs := `<file-sharing xmlns="urn:xmpp:sfs:0"><file xmlns="urn:xmpp:file:metadata:0"><media-type>image/jpeg</media-type>` +
		`<name>summit.jpg</name><size>42</size></file><sources><url-data xmlns="http://jabber.org/protocol/url-data" target="` + u1 + `"/></sources></file-sharing>`
	sims := `<reference xmlns="urn:xmpp:reference:0" type="data"><media-sharing xmlns="urn:xmpp:sims:1">` +
		`<file xmlns="urn:xmpp:jingle:apps:file-transfer:4"><media-type>application/pdf</media-type><size>7</size></file>` +
		`<sources><reference xmlns="urn:xmpp:reference:0" type="data" uri="` + u2 + `"/></sources></media-sharing></reference>`
	oob := func(u string) string { return `<x xmlns="jabber:x:oob"><url>` + u + `</url></x>` }
	tests := []struct {
		name  string
		inner string
		max   int
		want  []sharedFile
	}{
		{"none", `<body>hi</body>`, 10, nil},
		{"oob", oob(u1), 10, []sharedFile{{url: u1, name: "photo.jpg"}}},
		{"sfs and its oob fallback are one file", sfs + oob(u1), 10, []sharedFile{{url: u1, name: "summit.jpg", typ: "image/jpeg", size: 42}}},
		{"oob first, sfs metadata still kept", oob(u1) + sfs, 10, []sharedFile{{url: u1, name: "summit.jpg", typ: "image/jpeg", size: 42}}},
		{"sims with file-transfer:4, name from the URL", sims, 10, []sharedFile{{url: u2, name: "doc one.pdf", typ: "application/pdf", size: 7}}},
		{"two files", sfs + sims, 10, []sharedFile{{url: u1, name: "summit.jpg", typ: "image/jpeg", size: 42}, {url: u2, name: "doc one.pdf", typ: "application/pdf", size: 7}}},
		{"at most max", sfs + sims, 1, []sharedFile{{url: u1, name: "summit.jpg", typ: "image/jpeg", size: 42}}},
		{"wrong namespaces ignored", `<x xmlns="jabber:x:oob:other"><url>` + u1 + `</url></x><file-sharing xmlns="urn:xmpp:sfs:1"/>`, 10, nil},
		{"empty url ignored", oob("  "), 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := parseXML(`<message xmlns="jabber:component:accept">` + tt.inner + `</message>`)
			if err != nil {
				t.Fatal(err)
			}
			got := sharedFiles(n, tt.max)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("file %d: %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// FuzzSharedFiles: whatever a message carries, the files read from it are
// at most max, with distinct non-empty URLs and names fit for one line.
func FuzzSharedFiles(f *testing.F) {
	f.Add(`<x xmlns="jabber:x:oob"><url>https://a/b</url></x>`)
	f.Add(`<file-sharing xmlns="urn:xmpp:sfs:0"><file xmlns="urn:xmpp:file:metadata:0"><name>a` + "\u202e" + `b</name><size>-1</size></file><sources><url-data xmlns="http://jabber.org/protocol/url-data" target="x"/></sources></file-sharing>`)
	f.Add(`<reference xmlns="urn:xmpp:reference:0"><media-sharing xmlns="urn:xmpp:sims:1"><sources><reference xmlns="urn:xmpp:reference:0" uri="u"/><reference xmlns="urn:xmpp:reference:0" uri="u"/></sources></media-sharing></reference>`)
	f.Fuzz(func(t *testing.T, inner string) {
		n, err := parseXML(`<message xmlns="jabber:component:accept">` + inner + `</message>`)
		if err != nil {
			return
		}
		got := sharedFiles(n, 3)
		if len(got) > 3 {
			t.Fatalf("%d files", len(got))
		}
		seen := map[string]bool{}
		for _, f := range got {
			if f.url == "" || seen[f.url] || f.size < 0 {
				t.Fatalf("file %+v (seen %v)", f, seen[f.url])
			}
			seen[f.url] = true
			if !utf8.ValidString(f.name) || utf8.RuneCountInString(f.name) > 200 || strings.ContainsAny(f.name, "\r\n\u202e") || strings.ContainsAny(f.typ, "\r\n") {
				t.Fatalf("name %q type %q", f.name, f.typ)
			}
		}
	})
}

// TestFetchable: the component fetches a user's file only from their own
// served domain's web servers (or an address the admin listed); it asks
// nothing and reaches nothing to decide it for these.
func TestFetchable(t *testing.T) {
	c := uploadTestComponent(t, &egress.Policy{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}}, nil, "example.org", "*")
	// The upload service is known (as if found by disco): nothing is asked.
	c.uploads.m = map[string]uploadService{"example.org": {jid: "share.example.net", checked: time.Now()}}
	user := jid.MustParse("ann@example.org")
	tests := []struct {
		url  string
		user jid.JID
		want bool
	}{
		{"https://example.org/f/a.png", user, true},
		{"https://upload.example.org/f/a.png", user, true},
		{"https://UPLOAD.Example.org./f/a.png", user, true},
		{"http://10.0.0.5:5280/f/a.png", user, true},
		{"https://share.example.net/f/a.png", user, true},
		{"https://cdn.share.example.net/f/a.png", user, true},
		{"https://example.net/f/a.png", user, false},
		{"http://10.0.0.6:5280/f/a.png", user, false},
		{"https://example.org.evil.com/a.png", user, false},
		{"https://evilexample.org/a.png", user, false},
		{"ftp://example.org/a.png", user, false},
		{"https://u:p@example.org/a.png", user, false},
		{"https://files.example.com/a.png", jid.MustParse("eve@evil.example"), false}, // a "*" domain
		{"https://evil.example/a.png", jid.MustParse("eve@evil.example"), false},
		{"http://10.0.0.5/a.png", jid.MustParse("eve@evil.example"), false},
	}
	for _, tt := range tests {
		if got := c.fetchable(context.Background(), tt.user, tt.url); got != tt.want {
			t.Errorf("fetchable(%s, %s) = %v, want %v", tt.user, tt.url, got, tt.want)
		}
	}
}

// TestSizedBody: an upload body is exactly the announced size, or fails
// with a phrase for the user; a capped source that goes on past the
// gateway's limit says so.
func TestSizedBody(t *testing.T) {
	limited := &cappedBody{rc: io.NopCloser(strings.NewReader("123456")), left: 4}
	tests := []struct {
		name string
		src  io.Reader
		size int64
		want string // "" for success
	}{
		{"exact", strings.NewReader("hello"), 5, ""},
		{"empty", strings.NewReader(""), 0, ""},
		{"short", strings.NewReader("hel"), 5, errSizeDiffers.Error()},
		{"long", strings.NewReader("hello!"), 5, errSizeDiffers.Error()},
		{"broken", io.MultiReader(strings.NewReader("he"), errReader{}), 5, errSourceRead.Error()},
		{"over the cap", limited, 6, "larger than this gateway's limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &sizedBody{r: tt.src, left: tt.size}
			got, err := io.ReadAll(b)
			if tt.want == "" {
				if err != nil || int64(len(got)) != tt.size {
					t.Errorf("read %d bytes, %v", len(got), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || b.err == nil {
				t.Errorf("err = %v (kept %v), want %q", err, b.err, tt.want)
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestWithoutLinks: only lines that are just a file's URL leave the text.
func TestWithoutLinks(t *testing.T) {
	files := []transports.File{{URL: "https://up/a.png"}}
	tests := []struct{ in, want string }{
		{"https://up/a.png", ""},
		{"look\nhttps://up/a.png", "look"},
		{"  https://up/a.png  \nlook", "look"},
		{"see https://up/a.png here", "see https://up/a.png here"},
		{"https://up/b.png", "https://up/b.png"},
	}
	for _, tt := range tests {
		if got := withoutLinks(tt.in, files); got != tt.want {
			t.Errorf("withoutLinks(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
