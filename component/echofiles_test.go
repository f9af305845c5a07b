package component_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// TestRoomOwnFilesEcho: when the network echoes the user's own room
// message with its copies of the files they sent, the echo shows the
// links the user sent (already on their upload service): the network's
// copies are neither fetched nor uploaded again.
func TestRoomOwnFilesEcho(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, caps: sendFiles})
	c, a := roomUser(t, e, "kim")
	joinAndSync(t, c, testRoom, "kim")
	me := testRoom + "/kim"

	plan := c.Upload(t, uploadService, "plan.txt", "text/plain", []byte("the plan"))
	pic := c.Upload(t, uploadService, "map.png", "image/png", []byte("\x89PNG\r\n\x1a\nnot really"))
	c.Send(t, `<message type="groupchat" id="f1" to="`+testRoom+`"><body>two files</body>`+
		`<x xmlns="jabber:x:oob"><url>`+plan+`</url></x><x xmlns="jabber:x:oob"><url>`+pic+`</url></x></message>`)
	got := nextFiles(t, a)
	if len(got.Message.Files) != 2 || string(got.Contents[0]) != "the plan" {
		t.Fatalf("files sent: %+v, contents %q", got.Message, got.Contents)
	}
	echo := c.Expect(t, "the echo", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("from") == me && el.Attr("id") == "f1"
	})
	var urls []string
	for _, x := range echo.ChildrenNamed("jabber:x:oob", "x") {
		urls = append(urls, x.ChildText("jabber:x:oob", "url"))
	}
	if want := []string{plan, pic}; !slices.Equal(urls, want) {
		t.Errorf("echo links %q, want the ones sent %q: %s", urls, want, echo)
	}
	if want := "two files\n" + plan + "\n" + pic; bodyOf(echo) != want {
		t.Errorf("echo body %q, want %q", bodyOf(echo), want)
	}
	if n := e.net.EchoFileOpens(); n != 0 {
		t.Errorf("the network's copies were opened %d times, want none", n)
	}

	// The echo of a message not sent through the gateway (another
	// client's: no files known for it) is uploaded as any file is.
	var opened atomic.Int32
	a.Emit(&transports.MessageEvent{From: "#test", Room: true, Own: true, EchoOf: "elsewhere-1", RemoteID: "o1", Body: "from my phone",
		Attachments: []transports.Attachment{{Name: "plan.txt", Type: "text/plain", Size: 4,
			Open: func(context.Context) (io.ReadCloser, error) {
				opened.Add(1)
				return io.NopCloser(strings.NewReader("mine")), nil
			}}}})
	other := c.Expect(t, "another client's message", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("from") == me && el.Attr("id") == "elsewhere-1"
	})
	url := other.Find("{jabber:x:oob}x").ChildText("jabber:x:oob", "url")
	if opened.Load() != 1 || url == plan || string(download(t, url)) != "mine" {
		t.Errorf("another client's file: opened %d times, link %q (the user's own is %q)", opened.Load(), url, plan)
	}
}
