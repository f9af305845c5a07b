package component_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

const uploadService = "upload.localhost"

// sendFiles is an envOptions.caps that makes the fake network take files.
func sendFiles(c *transports.Capabilities) { c.SendFiles = true }

// download GETs url and returns the body.
func download(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nextFiles waits for the next message the fake network's SendFiles took.
func nextFiles(t *testing.T, a *transportstest.Adapter) transportstest.SentFiles {
	t.Helper()
	select {
	case m := <-a.Files():
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message with files reached the network")
	}
	return transportstest.SentFiles{}
}

// nextSent waits for the next message the fake network's Send took.
// TestSharedFilesToNetwork: a file the user uploaded to their own server
// and shared with XEP-0066, XEP-0447 or XEP-0385 reaches a network that
// takes files as a File whose Open gives the very bytes, with the name,
// type and size the client declared; a body that is only the link (the
// clients' fallback) is not sent as text as well.
func TestSharedFilesToNetwork(t *testing.T) {
	e := newEnv(t, envOptions{caps: sendFiles})
	c := e.user(t, "fay", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "fay@localhost")
	const to = "otto@" + gw

	tests := []struct {
		name     string
		file     string // uploaded as
		body     string // %s is the URL
		payload  string // %s is the URL
		wantBody string
		wantName string
		wantType string
		wantSize int64
	}{
		{"oob, link as body", "notes.txt", "%s", `<x xmlns="jabber:x:oob"><url>%s</url></x>`,
			"", "notes.txt", "", 0},
		{"sfs with text", "IMG_1.jpg", "look at this\n%s",
			`<file-sharing xmlns="urn:xmpp:sfs:0" disposition="inline"><file xmlns="urn:xmpp:file:metadata:0">` +
				`<media-type>image/jpeg</media-type><name>summit.jpg</name><size>11</size></file>` +
				`<sources><url-data xmlns="http://jabber.org/protocol/url-data" target="%[1]s"/></sources></file-sharing>` +
				`<x xmlns="jabber:x:oob"><url>%[1]s</url></x>`,
			"look at this", "summit.jpg", "image/jpeg", 11},
		{"sims", "doc.pdf", "%s",
			`<reference xmlns="urn:xmpp:reference:0" type="data"><media-sharing xmlns="urn:xmpp:sims:1">` +
				`<file xmlns="urn:xmpp:jingle:apps:file-transfer:5"><media-type>application/pdf</media-type><name>paper.pdf</name><size>11</size></file>` +
				`<sources><reference xmlns="urn:xmpp:reference:0" type="data" uri="%s"/></sources></media-sharing></reference>`,
			"", "paper.pdf", "application/pdf", 11},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := fmt.Appendf(nil, "content %03d", i)
			url := c.Upload(t, uploadService, tt.file, "application/octet-stream", data)
			c.Send(t, `<message type="chat" to="`+to+`"><body>`+fmt.Sprintf(tt.body, url)+`</body>`+fmt.Sprintf(tt.payload, url)+`</message>`)
			got := nextFiles(t, a)
			m := got.Message
			if m.To != "otto" || m.Body != tt.wantBody || len(m.Files) != 1 {
				t.Fatalf("message to %q, body %q, %d files; want otto, %q, 1", m.To, m.Body, len(m.Files), tt.wantBody)
			}
			f := m.Files[0]
			if f.URL != url || f.Name != tt.wantName || f.Type != tt.wantType || f.Size != tt.wantSize {
				t.Errorf("file %q %q %q %d, want %q %q %q %d", f.URL, f.Name, f.Type, f.Size, url, tt.wantName, tt.wantType, tt.wantSize)
			}
			if got.Errs[0] != nil || string(got.Contents[0]) != string(data) {
				t.Errorf("Open gave %q, %v; want %q", got.Contents[0], got.Errs[0], data)
			}
		})
	}
}

// TestSharedFileLinks: a file the component may not fetch (not on the
// user's own server) and every file for a network that takes none travel
// as links in the text; the network is never handed an Open for them.
func TestSharedFileLinks(t *testing.T) {
	const elsewhere = "https://files.example.org/a.png"
	tests := []struct {
		name   string
		caps   func(*transports.Capabilities)
		upload bool // share a file uploaded to the user's server, else elsewhere
	}{
		{"file elsewhere, network takes files", sendFiles, false},
		{"own file, network takes none", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{caps: tt.caps})
			c := e.user(t, "gus", "pc", 0)
			e.register(t, c)
			a := e.adapter(t, "gus@localhost")
			url := elsewhere
			if tt.upload {
				url = c.Upload(t, uploadService, "a.png", "image/png", []byte("png"))
			}
			c.Send(t, `<message type="chat" to="otto@`+gw+`"><body>see</body><x xmlns="jabber:x:oob"><url>`+url+`</url></x></message>`)
			m := nextSent(t, a)
			if m.Body != "see\n"+url || len(m.Files) != 0 {
				t.Errorf("body %q with %d files, want the link in the text", m.Body, len(m.Files))
			}
			select {
			case f := <-a.Files():
				t.Errorf("the network got files: %+v", f.Message)
			default:
			}
		})
	}
}

// TestSharedFileGone: a shared file that its server no longer has fails
// the send; the user gets an error, not a message without its file.
func TestSharedFileGone(t *testing.T) {
	e := newEnv(t, envOptions{caps: sendFiles})
	c := e.user(t, "hal", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "hal@localhost")
	up := c.Upload(t, uploadService, "x.txt", "text/plain", []byte("x"))
	i := strings.Index(up, "/file_share/")
	if i < 0 {
		t.Fatalf("unexpected upload URL %s", up)
	}
	url := up[:i] + "/file_share/no-such-file/x.txt" // Prosody's host, no such file
	c.Send(t, `<message type="chat" id="f1" to="otto@`+gw+`"><body>`+url+`</body><x xmlns="jabber:x:oob"><url>`+url+`</url></x></message>`)
	got := nextFiles(t, a)
	if got.Errs[0] == nil {
		t.Fatalf("Open of a missing file worked: %q", got.Contents[0])
	}
	c.Expect(t, "error", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("type") == "error" && el.Attr("id") == "f1"
	})
}

// TestAttachmentStreams: a legacy file is streamed from its Open into the
// user's upload slot: a 3 MiB file produced as it is read arrives whole; a
// source shorter than its announced size is named as not delivered, with
// the reason, and never stored truncated.
func TestAttachmentStreams(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "ida", "pc", 0)
	e.register(t, c)
	c.Send(t, `<presence/>`)
	a := e.adapter(t, "ida@localhost")

	const size = 3 << 20
	gen := func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(&counter{}, size)), nil
	}
	want := sha256.Sum256(mustRead(t, io.LimitReader(&counter{}, size)))
	short := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("abc")), nil }
	a.Emit(&transports.MessageEvent{From: "otto", Body: "files", RemoteID: "s1", Attachments: []transports.Attachment{
		{Name: "big.bin", Type: "application/octet-stream", Size: size, Open: gen},
		{Name: "short.txt", Type: "text/plain", Size: 5, Open: short},
	}})
	m := c.Expect(t, "message with files", func(el *testenv.Element) bool { return strings.HasPrefix(bodyOf(el), "files") })
	links := m.ChildrenNamed("jabber:x:oob", "x")
	if len(links) != 1 || links[0].ChildText("jabber:x:oob", "desc") != "big.bin" {
		t.Fatalf("want one link, for big.bin: %s", m)
	}
	if got := sha256.Sum256(download(t, links[0].ChildText("jabber:x:oob", "url"))); got != want {
		t.Error("the downloaded file differs from the one streamed")
	}
	if !strings.Contains(bodyOf(m), "[attachment not delivered: short.txt (5 bytes): its size differs") {
		t.Errorf("the short file is not named with the reason: %q", bodyOf(m))
	}
}

// counter yields the bytes 0, 1, 2, … 255, 0, … without end.
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

func mustRead(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttachmentFromURL: a file a network leaves on a web server is
// fetched by the component (egress policy: here an address the admin
// listed) and uploaded; a redirect is not followed, and the file is
// named as not delivered.
func TestAttachmentFromURL(t *testing.T) {
	var redirected atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cdn/cat.gif":
			w.Header().Set("Content-Type", "image/gif")
			io.WriteString(w, "GIF89a-cat")
		case "/moved":
			http.Redirect(w, r, "/target", http.StatusFound)
		case "/target":
			redirected.Add(1)
			io.WriteString(w, "never")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	e := newEnv(t, envOptions{})
	c := e.user(t, "jo", "pc", 0)
	e.register(t, c)
	c.Send(t, `<presence/>`)
	a := e.adapter(t, "jo@localhost")
	a.Emit(&transports.MessageEvent{From: "otto", Body: "from the cdn", Attachments: []transports.Attachment{
		{Name: "cat.gif", Type: "image/gif", URL: srv.URL + "/cdn/cat.gif"},
		{Name: "moved.gif", Type: "image/gif", URL: srv.URL + "/moved"},
	}})
	m := c.Expect(t, "message with files", func(el *testenv.Element) bool { return strings.HasPrefix(bodyOf(el), "from the cdn") })
	links := m.ChildrenNamed("jabber:x:oob", "x")
	if len(links) != 1 {
		t.Fatalf("want one link: %s", m)
	}
	if got := download(t, links[0].ChildText("jabber:x:oob", "url")); string(got) != "GIF89a-cat" {
		t.Errorf("downloaded %q", got)
	}
	if !strings.Contains(bodyOf(m), "[attachment not delivered: moved.gif") {
		t.Errorf("the redirected file is not named: %q", bodyOf(m))
	}
	if redirected.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

// TestRoomFilesBothWays: a file said in a room reaches the user's joined
// resource as a link to their own server (rooms used to drop files), and a
// file the user shares in the room reaches the network as a file.
func TestRoomFilesBothWays(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, caps: sendFiles})
	c, a := roomUser(t, e, "kim")
	joinAndSync(t, c, testRoom, "kim")

	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "bob", Body: "a map", RemoteID: "r1",
		Attachments: []transports.Attachment{{Name: "map.txt", Type: "text/plain", Size: 4,
			Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("here")), nil }}}})
	m := c.Expect(t, "room message with a file", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("type") == "groupchat" && el.Attr("from") == testRoom+"/bob"
	})
	oob := m.Child("jabber:x:oob", "x")
	if oob == nil || !strings.HasPrefix(bodyOf(m), "a map\n") || !strings.Contains(bodyOf(m), oob.ChildText("jabber:x:oob", "url")) {
		t.Fatalf("no link for the file: %s", m)
	}
	if got := download(t, oob.ChildText("jabber:x:oob", "url")); string(got) != "here" {
		t.Errorf("downloaded %q", got)
	}

	// A room the user is not in shows nothing, so its files are not
	// fetched at all.
	opened := make(chan struct{}, 1)
	a.Emit(&transports.MessageEvent{From: "#elsewhere", Room: true, Nick: "bob", Body: "not for you", RemoteID: "r2",
		Attachments: []transports.Attachment{{Name: "x.txt", Type: "text/plain", Size: 4,
			Open: func(context.Context) (io.ReadCloser, error) {
				opened <- struct{}{}
				return io.NopCloser(strings.NewReader("nope")), nil
			}}}})
	select {
	case <-opened:
		t.Error("the file of a room the user is not in was fetched")
	default:
	}
	c.ExpectNone(t, 300*time.Millisecond, func(el *testenv.Element) bool {
		return bodyOf(el) != "" && strings.HasPrefix(bodyOf(el), "not for you")
	})

	url := c.Upload(t, uploadService, "plan.txt", "text/plain", []byte("the plan"))
	c.Send(t, `<message type="groupchat" to="`+testRoom+`"><body>`+url+`</body><x xmlns="jabber:x:oob"><url>`+url+`</url></x></message>`)
	got := nextFiles(t, a)
	if !got.Message.Room || got.Message.To != "#test" || len(got.Message.Files) != 1 || string(got.Contents[0]) != "the plan" {
		t.Errorf("room file: %+v, contents %q", got.Message, got.Contents)
	}
}
