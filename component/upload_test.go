package component

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// uploadTestComponent is a component with only what put and attach use.
func uploadTestComponent(t *testing.T, policy *egress.Policy, roots *x509.CertPool, allowed ...string) *Component {
	t.Helper()
	c := &Component{cfg: Config{Egress: policy}, log: slog.New(slog.DiscardHandler), allowed: make(map[string]bool)}
	for _, d := range allowed {
		c.allowed[d] = true
	}
	c.uploads.rootCAs = roots
	return c
}

// recorder is an HTTP server on 127.0.0.1 that counts the requests it
// got and keeps the last one's headers and body.
type recorder struct {
	srv    *httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	header http.Header
	body   string
}

func newRecorder(t *testing.T, tlsOn bool, answer func(w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rec := &recorder{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.header, rec.body = r.Header.Clone(), string(b)
		rec.mu.Unlock()
		answer(w, r)
	})
	if tlsOn {
		rec.srv = httptest.NewTLSServer(h)
	} else {
		rec.srv = httptest.NewServer(h)
	}
	t.Cleanup(rec.srv.Close)
	return rec
}

func (r *recorder) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(r.srv.Certificate())
	return p
}

func created(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) }

var loopback = &egress.Policy{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

var file = bytesAttachment("a.txt", "text/plain", []byte("hello"))

// bytesAttachment is an attachment whose Open reads data.
func bytesAttachment(name, typ string, data []byte) transports.Attachment {
	return transports.Attachment{Name: name, Type: typ, Size: int64(len(data)),
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// putHello puts the five bytes "hello" into slot.
func putHello(ctx context.Context, c *Component, slot uploadSlot) error {
	return c.put(ctx, slot, "text/plain", strings.NewReader("hello"), 5)
}

// TestPutRefusals: the upload client sends nothing to a slot it must not
// reach; the user's text is a fixed phrase.
func TestPutRefusals(t *testing.T) {
	tests := []struct {
		name     string
		tls      bool
		policy   *egress.Policy
		url      func(srv string) string
		wantText string
	}{
		{"loopback https slot, no allow_private", true, nil, func(s string) string { return s + "/up" }, "address not allowed by this gateway's policy"},
		{"loopback http slot, no allow_private", false, nil, func(s string) string { return s + "/up" }, "not an https address"},
		{"ftp slot", false, loopback, func(s string) string { return "ftp" + strings.TrimPrefix(s, "http") + "/up" }, "not an https address"},
		{"slot with user info", true, loopback, func(s string) string { return strings.Replace(s, "://", "://u:p@", 1) }, "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, tt.tls, created)
			var roots *x509.CertPool
			if tt.tls {
				roots = rec.roots()
			}
			c := uploadTestComponent(t, tt.policy, roots)
			err := putHello(context.Background(), c, uploadSlot{put: tt.url(rec.srv.URL)})
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantText)
			}
			if n := rec.hits.Load(); n != 0 {
				t.Errorf("the server got %d requests, want none", n)
			}
		})
	}
}

// TestPutRedirect: a 3xx is a failure; its target is never asked.
func TestPutRedirect(t *testing.T) {
	for _, code := range []int{http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		target := newRecorder(t, true, created)
		first := newRecorder(t, true, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.srv.URL+"/elsewhere", code)
		})
		roots := first.roots()
		roots.AddCert(target.srv.Certificate())
		c := uploadTestComponent(t, loopback, roots)
		err := putHello(context.Background(), c, uploadSlot{put: first.srv.URL + "/up"})
		if !errors.Is(err, errUploadRedirect) {
			t.Errorf("%d: err = %v, want errUploadRedirect", code, err)
		}
		if first.hits.Load() != 1 || target.hits.Load() != 0 {
			t.Errorf("%d: requests: first %d, target %d; want 1, 0", code, first.hits.Load(), target.hits.Load())
		}
	}
}

// TestPutHappyAndStatus: an allowed https slot gets the file and only the
// headers XEP-0363 allows; a refusal is told without the server's status
// line or body.
func TestPutHappyAndStatus(t *testing.T) {
	rec := newRecorder(t, true, created)
	c := uploadTestComponent(t, loopback, rec.roots())
	res, err := parseXML(`<iq xmlns="jabber:component:accept" type="result"><slot xmlns="urn:xmpp:http:upload:0">` +
		`<put url="` + rec.srv.URL + `/up"><header name="Authorization">Basic x</header><header name="Cookie">c=1</header>` +
		`<header name="Expires">Tue, 1 Dec 2026 10:00:00 GMT</header><header name="X-Evil">1</header><header name="Host">internal</header></put>` +
		`<get url="https://up.example/a.txt"/></slot></iq>`)
	if err != nil {
		t.Fatal(err)
	}
	slot, err := parseSlot(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := putHello(context.Background(), c, slot); err != nil {
		t.Fatalf("put: %v", err)
	}
	rec.mu.Lock()
	h, body := rec.header, rec.body
	rec.mu.Unlock()
	if body != "hello" || h.Get("Authorization") != "Basic x" || h.Get("Cookie") != "c=1" || h.Get("Expires") == "" {
		t.Errorf("request: body %q, headers %v", body, h)
	}
	if h.Get("X-Evil") != "" {
		t.Errorf("a header XEP-0363 does not allow was sent: %v", h)
	}

	bad := newRecorder(t, true, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "db password is hunter2", http.StatusInternalServerError)
	})
	c = uploadTestComponent(t, loopback, bad.roots())
	err = putHello(context.Background(), c, uploadSlot{put: bad.srv.URL + "/up"})
	if !errors.Is(err, errUploadRefused) || strings.Contains(err.Error(), "500") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v, want the fixed refusal", err)
	}
}

// TestPlainHTTPOnlyListed: the plain http client's dial check lets
// through only addresses the admin listed, public ones included; it is
// tested on the check itself, so no packet is sent anywhere.
func TestPlainHTTPOnlyListed(t *testing.T) {
	check := listedOnly(&egress.Policy{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}})
	for addr, ok := range map[string]bool{
		"10.0.0.5:80":       true,
		"10.0.0.6:80":       false,
		"127.0.0.1:80":      false,
		"93.184.216.34:80":  false, // public, but plain http
		"[::ffff:a00:5]:80": true,  // 10.0.0.5 mapped
		"not-an-address":    false,
	} {
		err := check("tcp", addr, nil)
		if (err == nil) != ok {
			t.Errorf("%s: err = %v, want allowed=%v", addr, err, ok)
		}
		if err != nil && !errors.Is(err, egress.ErrForbidden) {
			t.Errorf("%s: err = %v, want ErrForbidden", addr, err)
		}
	}
	if err := listedOnly(nil)("tcp", "10.0.0.5:80", nil); !errors.Is(err, egress.ErrForbidden) {
		t.Errorf("nil policy: %v", err)
	}
}

// TestUploadOnlyForServedDomains: a user of a domain let in only by "*"
// gets no upload (and the component asks their server nothing).
func TestUploadOnlyForServedDomains(t *testing.T) {
	c := uploadTestComponent(t, nil, nil, "*", "example.org")
	_, err := c.upload(context.Background(), jid.MustParse("eve@evil.example"), file)
	if !errors.Is(err, errNotServed) {
		t.Errorf("err = %v, want errNotServed", err)
	}
}

// TestAttachLimits: of 100 files, maxAttachments are handled (here each
// fails at once: the domain is not served) and named with the reason; the
// rest are named in one line of bounded length; fetched-too-large and
// over-limit files say so.
func TestAttachLimits(t *testing.T) {
	c := uploadTestComponent(t, nil, nil, "*")
	c.cfg.MaxAttachments = 10
	c.cfg.MaxAttachmentBytes = 4
	var atts []transports.Attachment
	atts = append(atts, transports.Attachment{Name: "huge.iso", Size: 1 << 40})
	atts = append(atts, bytesAttachment("five.txt", "", []byte("hello")))
	for i := range 98 {
		atts = append(atts, bytesAttachment(strings.Repeat("x", i%60+1)+"\u202e.txt", "", []byte("x")))
	}
	text, oob := c.attach(context.Background(), jid.MustParse("eve@evil.example"), atts)
	if len(oob) != 0 {
		t.Errorf("links: %v", oob)
	}
	lines := strings.Split(strings.TrimPrefix(text, "\n"), "\n")
	if len(lines) != 11 {
		t.Fatalf("%d lines, want 10 + 1:\n%s", len(lines), text)
	}
	if !strings.Contains(lines[0], "huge.iso") || !strings.Contains(lines[0], "too large to fetch") {
		t.Errorf("line 0: %q", lines[0])
	}
	if !strings.Contains(lines[1], "five.txt") || !strings.Contains(lines[1], "larger than this gateway's limit of 4 bytes") {
		t.Errorf("line 1: %q", lines[1])
	}
	for _, l := range lines[2:10] {
		if !strings.Contains(l, errNotServed.Error()) {
			t.Errorf("line %q lacks the reason", l)
		}
	}
	last := lines[10]
	if !strings.HasPrefix(last, "[90 more files not uploaded (at most 10 per message): ") || !strings.HasSuffix(last, ", …]") || len(last) > 450 {
		t.Errorf("rest line (%d bytes): %q", len(last), last)
	}
	if strings.ContainsRune(text, '\u202e') {
		t.Error("a bidi control character reached the text")
	}
}

func TestShortNameAndRestLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"", "attachment"},
		{"a\nb\x00c\u202ed", "abcd"},
		{strings.Repeat("é", 50), strings.Repeat("é", 39) + "…"},
	}
	for _, tt := range tests {
		if got := stanza.ShortName(tt.in, 40); got != tt.want {
			t.Errorf("stanza.ShortName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := restLine([]transports.Attachment{{Name: "a.pdf"}}, 10); got != "[1 more file not uploaded (at most 10 per message): a.pdf]" {
		t.Errorf("restLine: %q", got)
	}
}

// TestPutEndsWithContext: an upload to a server that never answers ends
// with its context (the message's budget), with a fixed phrase.
func TestPutEndsWithContext(t *testing.T) {
	block := make(chan struct{})
	rec := newRecorder(t, true, func(http.ResponseWriter, *http.Request) { <-block })
	t.Cleanup(func() { close(block) }) // before the server's Close, which waits for the handler
	c := uploadTestComponent(t, loopback, rec.roots())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := putHello(ctx, c, uploadSlot{put: rec.srv.URL + "/up"})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("err = %v, want a timeout phrase", err)
	}
	if time.Since(start) > 20*time.Second { // liveness bound only
		t.Errorf("put outlived its context by far")
	}
}

// parseXML reads one element as the stream handler would.
func parseXML(s string) (*node, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return xmltree.Read(start, d, 1<<16)
		}
	}
}

// FuzzShortName: whatever a legacy sender names a file, the name shown is
// valid UTF-8 without control or bidi characters, at most max runes, and
// the line naming the files not uploaded stays short.
func FuzzShortName(f *testing.F) {
	for _, s := range []string{"report.pdf", "", "invoice\u202efdp.exe", "a\r\nb", "\xff\xfe", strings.Repeat("x", 500), "\u200d\u2066é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := stanza.ShortName(name, 40)
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > 40 || got == "" {
			t.Fatalf("stanza.ShortName(%q) = %q", name, got)
		}
		for _, r := range got {
			if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("stanza.ShortName(%q) kept %U", name, r)
			}
		}
		rest := make([]transports.Attachment, 100)
		for i := range rest {
			rest[i].Name = name
		}
		if line := restLine(rest, 10); len(line) > 600 || strings.ContainsAny(line, "\r\n") {
			t.Fatalf("restLine: %d bytes: %q", len(line), line)
		}
	})
}
