package testenv

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// Upload shares a file the way an XMPP client does: it asks service (the
// test Prosody's "upload.localhost") for an XEP-0363 slot, PUTs data to
// it with the slot's headers, and returns the download URL.
func (c *Client) Upload(t testing.TB, service, name, typ string, data []byte) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var attrs bytes.Buffer
	for _, a := range [][2]string{{"filename", name}, {"size", fmt.Sprint(len(data))}, {"content-type", typ}} {
		attrs.WriteString(" " + a[0] + `="`)
		xml.EscapeText(&attrs, []byte(a[1]))
		attrs.WriteString(`"`)
	}
	res, err := c.Request(ctx, `<iq type="get" to="`+service+`"><request xmlns="urn:xmpp:http:upload:0"`+attrs.String()+`/></iq>`)
	if err != nil {
		t.Fatalf("upload slot: %v", err)
	}
	const ns = "urn:xmpp:http:upload:0"
	slot := res.Child(ns, "slot")
	if res.Attr("type") != "result" || slot == nil {
		t.Fatalf("upload slot refused: %s", res)
	}
	put, get := slot.Child(ns, "put"), slot.Child(ns, "get")
	if put == nil || get == nil {
		t.Fatalf("upload slot without URLs: %s", res)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, put.Attr("url"), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", typ)
	for _, h := range put.ChildrenNamed(ns, "header") {
		req.Header.Set(h.Attr("name"), h.Text)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upload PUT: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("upload PUT: %s", resp.Status)
	}
	return get.Attr("url")
}
