package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// TestKannel: an SMS sent through sendsms reaches the fake SMS centre,
// its delivery reports call the dlr-url, and an SMS the centre delivers
// calls the MO URL with the text.
func TestKannel(t *testing.T) {
	calls := make(chan url.Values, 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Set("path", r.URL.Path)
		calls <- q
	}))
	t.Cleanup(srv.Close)
	k := StartKannel(t, KannelOptions{MOURL: srv.URL + "/mo?from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I"})

	q := url.Values{"username": {k.Username}, "password": {k.Password}, "from": {"+15550001"}, "to": {"+15551234567"},
		"text": {"hello there"}, "dlr-mask": {"31"}, "dlr-url": {srv.URL + "/dlr?type=%d"}}
	res, err := http.Get(k.SendSMSURL + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted || !strings.HasPrefix(string(body), "0: Accepted") {
		t.Fatalf("sendsms: %d %q", res.StatusCode, body)
	}
	mt, err := k.NextMT(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if mt != (MT{From: "+15550001", To: "+15551234567", Kind: "text", Text: "hello there"}) {
		t.Fatalf("the SMS centre got %+v", mt)
	}
	var types []string
	for len(types) < 2 {
		select {
		case c := <-calls:
			if c.Get("path") == "/dlr" {
				types = append(types, c.Get("type"))
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("delivery reports %v, want 2", types)
		}
	}
	// smsbox calls the dlr-url concurrently: the two reports come in
	// either order.
	slices.Sort(types)
	if strings.Join(types, ",") != "1,8" {
		t.Fatalf("delivery report types %v, want 8 (accepted by the SMSC) and 1 (delivered)", types)
	}

	if err := k.Receive("+15557654321", "+15550001", "hi back", false); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-calls:
		if c.Get("path") != "/mo" || c.Get("from") != "+15557654321" || c.Get("to") != "+15550001" || c.Get("text") != "hi back" || c.Get("id") == "" {
			t.Fatalf("MO call %v", c)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no MO call")
	}
	if err := k.Receive("+15557654321", "+15550001", "привет  мир", true); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-calls:
		raw := c.Get("text")
		units := make([]uint16, len(raw)/2)
		for i := range units {
			units[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
		}
		if c.Get("coding") != "2" || c.Get("charset") != "UTF-16BE" || string(utf16.Decode(units)) != "привет  мир" {
			t.Fatalf("MO call %q, want the UTF-16BE of %q with coding 2", c, "привет  мир")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no MO call")
	}
}

// TestRequireNamesTheKannelPackages: a missing Kannel binary names the
// Debian package to install (fakesmsc is in kannel-extras).
func TestRequireNamesTheKannelPackages(t *testing.T) {
	for bin, want := range map[string]string{"bearerbox": "kannel", "smsbox": "kannel", fakesmsc: "kannel-extras"} {
		if got := debPackage(bin); got != want {
			t.Errorf("debPackage(%s) = %q, want %q", bin, got, want)
		}
	}
}
