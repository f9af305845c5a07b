package sms

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"time"
)

// Providers and registration modes (the [sms] keys provider and mode).
const (
	ProviderTwilio = "twilio" // a Twilio-compatible REST API
	ProviderKannel = "kannel" // a Kannel smsbox

	ModeOperator = "operator" // the admin's account; users get numbers of Numbers
	ModeOwn      = "own"      // bring your own: each user's Twilio account and number
)

// Config configures the SMS network. The fields with a toml tag are the
// keys of the configuration file's [sms] table (and its [sms.twilio] and
// [sms.kannel] tables), decoded strictly; the others are set by the
// program.
type Config struct {
	// Provider is ProviderTwilio or ProviderKannel.
	Provider string `toml:"provider"`
	// Mode is ModeOperator (default) or ModeOwn (Twilio only).
	Mode string `toml:"mode"`
	// DefaultCountry reads numbers typed without a country code (ISO
	// 3166 code, "US"); "" accepts international numbers only.
	DefaultCountry string `toml:"default_country"`
	// Numbers is the operator's pool: each registered user gets one.
	Numbers []string `toml:"numbers"`
	// MaxSegments: a text that takes more SMS than this is refused
	// (each part costs as one SMS); 0 means 10.
	MaxSegments int `toml:"max_segments"`
	// WarnSegments: after a text that went as more SMS than this, the
	// user is told how many (each costs as one SMS); 0 means 3.
	WarnSegments int `toml:"warn_segments"`

	Twilio TwilioConfig `toml:"twilio"`
	Kannel KannelConfig `toml:"kannel"`

	// HTTPClient talks to the provider (the admin's own service, so not
	// through the egress policy); nil means a client with Timeout.
	HTTPClient *http.Client `toml:"-"`
	// Timeout bounds each request to the provider; 0 means 30 s.
	Timeout time.Duration `toml:"-"`
	// RetryWait is the first wait before sending again a text that
	// provably did not reach the provider; 0 means 1 s. It doubles per
	// attempt, and a 429's Retry-After wins when longer.
	RetryWait time.Duration `toml:"-"`
	Logger    *slog.Logger  `toml:"-"`
}

// TwilioConfig is the [sms.twilio] table.
type TwilioConfig struct {
	// APIURL is the REST API's base ("https://api.twilio.com"), so a
	// provider that copies Twilio's API can be used instead.
	APIURL string `toml:"api_url"`
	// ConversationsURL is the base of the Conversations API, where
	// Twilio keeps group texts ("https://conversations.twilio.com");
	// "" means Twilio's with Twilio's own api_url, else api_url (a
	// provider copying Twilio's API serves both at one address).
	ConversationsURL string `toml:"conversations_url"`
	// MediaURL is the base of the Media Content Service, where files of
	// group texts are kept ("https://mcs.us1.twilio.com"); "" means
	// Twilio's with Twilio's own api_url, else api_url.
	MediaURL string `toml:"media_url"`
	// GroupTexts makes writing in a fan-out room start a group text (a
	// Conversation: one text to all, answers seen by all) instead of one
	// text per member. Default false: the account needs Conversations
	// with Group MMS, which Twilio offers for US and Canadian numbers.
	GroupTexts bool `toml:"group_texts"`
	// AccountSID and AuthToken are the operator's account (ModeOperator).
	AccountSID string `toml:"account_sid"`
	AuthToken  string `toml:"auth_token"`
	// MessagingServiceSID is a Messaging Service of the operator's
	// account ("MG…", operator mode) that every text is sent with, as
	// Twilio's MessagingServiceSid, so the service's settings and
	// compliance registration (US A2P 10DLC) apply. The text still names
	// the user's number as From, which Twilio documents beside a
	// service: without it Twilio would pick any sender of the service's
	// pool, and a reply would reach whoever has that number. The users'
	// numbers must be in the service's sender pool.
	MessagingServiceSID string `toml:"messaging_service_sid"`
}

// serviceSID is the form of a Messaging Service's SID.
var serviceSID = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)

// KannelConfig is the [sms.kannel] table.
type KannelConfig struct {
	// SendSMSURL is smsbox's sendsms interface
	// ("http://127.0.0.1:13013/cgi-bin/sendsms").
	SendSMSURL string `toml:"sendsms_url"`
	// Username and Password are a sendsms-user of kannel.conf.
	Username string `toml:"username"`
	Password string `toml:"password"`
	// Token is the secret in the path of the get-url and dlr-url that
	// Kannel calls (it cannot sign): at least 16 characters.
	Token string `toml:"token"`
	// AllowFrom lists the addresses (IPs or CIDR prefixes) Kannel's
	// calls may come from; others get 403 whatever their token. Empty:
	// any (the listener's binding and the token guard it).
	AllowFrom []string `toml:"allow_from"`
}

// allowed parses AllowFrom (checked by Check).
func (k KannelConfig) allowed() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range k.AllowFrom {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parsePrefix reads an IP (a one-address prefix) or a CIDR prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

// DefaultTwilioAPI is Twilio's own REST API.
const DefaultTwilioAPI = "https://api.twilio.com"

// DefaultTwilioConversations is Twilio's own Conversations API.
const DefaultTwilioConversations = "https://conversations.twilio.com"

// DefaultTwilioMedia is Twilio's own Media Content Service.
const DefaultTwilioMedia = "https://mcs.us1.twilio.com"

// Check reports each problem of the keys read from the file: problem is
// called with the key, relative to the [sms] table, and what is wrong.
// It does no I/O and looks at no other table.
func (c *Config) Check(problem func(key, msg string)) {
	switch c.Provider {
	case ProviderTwilio:
		if c.Twilio.APIURL != "" {
			checkURL(problem, "twilio.api_url", c.Twilio.APIURL)
		}
		if c.Twilio.ConversationsURL != "" {
			checkURL(problem, "twilio.conversations_url", c.Twilio.ConversationsURL)
		}
		if c.Twilio.MediaURL != "" {
			checkURL(problem, "twilio.media_url", c.Twilio.MediaURL)
		}
		if c.mode() == ModeOperator && (c.Twilio.AccountSID == "" || c.Twilio.AuthToken == "") {
			problem("twilio", "operator mode needs account_sid and auth_token")
		}
		switch sid := c.Twilio.MessagingServiceSID; {
		case sid == "":
		case c.mode() != ModeOperator:
			problem("twilio.messaging_service_sid", "is the operator's; in own mode each user's account sends")
		case !serviceSID.MatchString(sid):
			problem("twilio.messaging_service_sid", fmt.Sprintf("%q is not a Messaging Service SID (MG and 32 hex digits)", sid))
		}
	case ProviderKannel:
		checkURL(problem, "kannel.sendsms_url", c.Kannel.SendSMSURL)
		if c.Kannel.Username == "" || c.Kannel.Password == "" {
			problem("kannel", "needs username and password (a sendsms-user of kannel.conf)")
		}
		if len(c.Kannel.Token) < 16 {
			problem("kannel.token", "must be a secret of at least 16 characters (it authenticates Kannel's calls)")
		}
		if c.mode() != ModeOperator {
			problem("mode", "Kannel has operator mode only")
		}
		for _, a := range c.Kannel.AllowFrom {
			if _, err := parsePrefix(a); err != nil {
				problem("kannel.allow_from", fmt.Sprintf("%q is neither an IP address nor a CIDR prefix", a))
			}
		}
	default:
		problem("provider", fmt.Sprintf("%q is not a provider: twilio or kannel", c.Provider))
	}
	switch c.mode() {
	case ModeOperator:
		if len(c.Numbers) == 0 {
			problem("numbers", "operator mode needs the numbers users are given")
		}
	case ModeOwn:
	default:
		problem("mode", fmt.Sprintf("%q is not a mode: operator or own", c.Mode))
	}
	if c.DefaultCountry != "" && !ValidRegion(c.DefaultCountry) {
		problem("default_country", fmt.Sprintf("%q is not a country code such as US or GB", c.DefaultCountry))
	}
	seen := map[string]bool{}
	for _, num := range c.Numbers {
		if !e164.MatchString(num) {
			problem("numbers", fmt.Sprintf("%q is not an E.164 number such as +15551234567", num))
		} else if seen[num] {
			problem("numbers", fmt.Sprintf("%s is listed twice", num))
		}
		seen[num] = true
	}
	if c.MaxSegments < 0 {
		problem("max_segments", "must not be negative")
	}
	if c.WarnSegments < 0 {
		problem("warn_segments", "must not be negative")
	}
}

func checkURL(problem func(key, msg string), key, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problem(key, fmt.Sprintf("%q is not an http(s) URL", s))
	}
}

func (c *Config) mode() string {
	if c.Mode == "" {
		return ModeOperator
	}
	return c.Mode
}
