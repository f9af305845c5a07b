package config

import (
	"fmt"
	"net/url"
	"strings"
)

// checkPublicURL says what is wrong with [http] public_url, or "".
func checkPublicURL(v string) string {
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a URL", v)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q is not an absolute http:// or https:// URL", v)
	case u.Host == "":
		return fmt.Sprintf("%q has no host", v)
	case u.User != nil:
		return fmt.Sprintf("%q holds credentials; give the public address only", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(v, "?") || strings.HasSuffix(v, "#"):
		return fmt.Sprintf("%q has a query or fragment; give the URL the listener's root is reached at", v)
	}
	return ""
}

// HookURL is the public URL of network's webhook handler
// (<public_url>/hooks/<network>/), or "" when public_url is not set.
func (h HTTP) HookURL(network string) string {
	if h.PublicURL == "" {
		return ""
	}
	return strings.TrimSuffix(h.PublicURL, "/") + "/hooks/" + network + "/"
}
