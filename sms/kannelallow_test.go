package sms

import (
	"net/http"
	"net/url"
	"testing"
)

// TestKannelAllowFrom: with allow_from set, Kannel's calls from another
// address are refused even with the right token.
func TestKannelAllowFrom(t *testing.T) {
	tests := []struct {
		allow  []string
		status int
	}{
		{nil, http.StatusOK},
		{[]string{"127.0.0.1"}, http.StatusOK},
		{[]string{"10.0.0.0/8", "127.0.0.0/8"}, http.StatusOK},
		{[]string{"10.0.0.0/8"}, http.StatusForbidden},
		{[]string{"::1"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		h := newHookServer(t, Config{Provider: ProviderKannel, Numbers: []string{numA},
			Kannel: KannelConfig{SendSMSURL: "http://127.0.0.1:1/cgi-bin/sendsms", Username: "u", Password: "p", Token: kannelToken, AllowFrom: tt.allow}})
		h.register(t, "alice@example.org", nil)
		q := url.Values{"from": {contact}, "to": {numA}, "text": {"hi"}, "coding": {"0"}, "charset": {"UTF-8"}, "id": {"k1"}}
		if code, _ := get(t, h.public+"kannel/"+kannelToken+"/inbound?"+q.Encode()); code != tt.status {
			t.Errorf("allow_from %v: HTTP %d, want %d", tt.allow, code, tt.status)
		}
		if got, want := len(h.rec.events()), map[bool]int{true: 1, false: 0}[tt.status == http.StatusOK]; got != want {
			t.Errorf("allow_from %v: delivered %d, want %d", tt.allow, got, want)
		}
	}
}
