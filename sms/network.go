// Package sms bridges to SMS through a provider: phone numbers are
// contacts (+15551234567@sms.example.org, E.164), texts go out through
// the provider's HTTP API and come in through its webhooks, which the
// gateway serves at /hooks/sms/ (transports.HookNetwork).
//
// Two providers: a Twilio-compatible REST API (api_url configurable, so
// the providers that copy Twilio's API work too), whose webhooks are
// signed (X-Twilio-Signature, checked against the configured public URL),
// and Kannel, an open-source SMS gateway (smsbox's sendsms interface
// out, its get-url in), which cannot sign: a secret token in the path
// authenticates it. Each user has a number: in operator mode one of the
// admin's pool, assigned at registration (transports.Registrar); in
// own mode (Twilio) the user's own account and number, checked by a real
// API call. The network-wide store (transports.NetStore) maps numbers to
// their users and remembers the inbound texts already delivered, so a
// provider's retry is not delivered twice.
//
// Group texts are rooms (rooms.go): a Twilio group text (Conversations
// API, ch…%group) is texted as one, and a room of several numbers
// (+1…,+1…) fans out as one text per member with any provider.
//
// Sending is not delivery: delivery reports become receipts
// (Capabilities.DeferredReceipts). The package knows nothing of XMPP.
package sms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// Keys of the network's store.
const (
	keyNumber = "number/" // + E.164 → the bare JID of the user who has it
	keyUser   = "user/"   // + bare JID → their number (operator mode)
	keySeen   = "seen/"   // + provider message ID → when a text or report was delivered, and to whom (seen.go)
)

// maxChars is the longest text, in characters, one Send takes (Twilio's
// limit for a Body).
const maxChars = 1600

// Network is the SMS network. It implements transports.Network,
// HookNetwork, Registrar and Normalizer.
type Network struct {
	cfg    Config
	log    *slog.Logger
	twilio *twilioClient // operator mode with Twilio; nil otherwise
	kannel *kannelClient // Kannel; nil otherwise
	// kannelAllow are the addresses Kannel's calls may come from (nil:
	// any).
	kannelAllow []netip.Prefix

	mu    sync.Mutex
	hooks transports.Hooks
}

var (
	_ transports.Network     = (*Network)(nil)
	_ transports.HookNetwork = (*Network)(nil)
	_ transports.Registrar   = (*Network)(nil)
	_ transports.Normalizer  = (*Network)(nil)
	_ transports.Addresser   = (*Network)(nil)
)

// New returns the SMS network configured by cfg (checked by cfg.Check).
// It does no I/O.
func New(cfg Config) *Network {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = time.Second
	}
	if cfg.MaxSegments <= 0 {
		cfg.MaxSegments = 10
	}
	if cfg.WarnSegments <= 0 {
		cfg.WarnSegments = 3
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeOperator
	}
	if cfg.Twilio.APIURL == "" {
		cfg.Twilio.APIURL = DefaultTwilioAPI
	}
	if cfg.Twilio.ConversationsURL == "" {
		cfg.Twilio.ConversationsURL = cfg.Twilio.APIURL
		if cfg.Twilio.APIURL == DefaultTwilioAPI {
			cfg.Twilio.ConversationsURL = DefaultTwilioConversations
		}
	}
	if cfg.Twilio.MediaURL == "" {
		cfg.Twilio.MediaURL = cfg.Twilio.APIURL
		if cfg.Twilio.APIURL == DefaultTwilioAPI {
			cfg.Twilio.MediaURL = DefaultTwilioMedia
		}
	}
	n := &Network{cfg: cfg, log: cfg.Logger.With("network", "sms")}
	switch {
	case cfg.Provider == ProviderKannel:
		n.kannel = &kannelClient{url: cfg.Kannel.SendSMSURL, user: cfg.Kannel.Username, pass: cfg.Kannel.Password, http: cfg.HTTPClient}
		n.kannelAllow = cfg.Kannel.allowed()
	case cfg.Mode == ModeOperator:
		n.twilio = n.twilioFor(cfg.Twilio.AccountSID, cfg.Twilio.AuthToken)
		n.twilio.service = cfg.Twilio.MessagingServiceSID
	}
	return n
}

func (n *Network) twilioFor(sid, token string) *twilioClient {
	return &twilioClient{api: trimSlash(n.cfg.Twilio.APIURL), conv: trimSlash(n.cfg.Twilio.ConversationsURL),
		mcs: trimSlash(n.cfg.Twilio.MediaURL),
		sid: sid, token: token, http: n.cfg.HTTPClient}
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// Name implements transports.Network.
func (n *Network) Name() string { return "sms" }

// Identity implements transports.Network.
func (n *Network) Identity() transports.Identity {
	return transports.Identity{Category: "gateway", Type: "sms", Name: "SMS gateway"}
}

// Capabilities implements transports.Network: webhooks, receipts only
// when the provider reports delivery, files both ways as MMS media with
// Twilio, group texts as rooms. Sessions need not stay up while the user is offline: a
// session only sends, and webhooks are checked and delivered without one
// (in own mode with the auth token read from the user's registration).
func (n *Network) Capabilities() transports.Capabilities {
	return transports.Capabilities{
		Webhooks:         true,
		DeferredReceipts: true,
		MaxBody:          maxChars * 4,
		SendFiles:        n.cfg.Provider == ProviderTwilio,
		AdminCommands:    n.adminCommands(),
		Attachments:      n.cfg.Provider == ProviderTwilio,
		// Group texts (rooms.go): Twilio's as rooms, and with any
		// provider a room of several numbers that fans out.
		Rooms:          true,
		ConferenceType: "text",
		OccupantIDs:    true,
	}
}

// LoginFields implements transports.Network: nothing in operator mode
// (the gateway assigns a number), the Twilio account and number in own
// mode.
func (n *Network) LoginFields() []transports.Field {
	if n.cfg.Mode != ModeOwn {
		return nil
	}
	return []transports.Field{
		{Name: "account_sid", Label: "Twilio account SID", Kind: transports.FieldText, Required: true, Legacy: "username", MaxLen: 64},
		{Name: "auth_token", Label: "Twilio auth token", Kind: transports.FieldSecret, Required: true, Legacy: "password", MaxLen: 128},
		{Name: "phone", Label: "Your Twilio phone number", Kind: transports.FieldText, Required: true, MaxLen: 32,
			Desc: "The number texts are sent from, such as +15551234567; its incoming-message webhook must point at this gateway"},
	}
}

// adminCommands are the administrators' commands: assigning numbers in
// operator mode.
func (n *Network) adminCommands() []transports.AdminCommand {
	if n.cfg.Mode != ModeOperator {
		return nil
	}
	return []transports.AdminCommand{assignCommand}
}

// NormalizeAddress implements transports.Normalizer (see Normalize); a
// list of numbers joined with "," is a fan-out room's address.
func (n *Network) NormalizeAddress(input string) (transports.ID, error) {
	if strings.Contains(input, ",") {
		return normalizeRoom(input, n.cfg.DefaultCountry)
	}
	return Normalize(input, n.cfg.DefaultCountry)
}

// Validate implements transports.Network: in own mode a real API call
// checks that the account exists, the token works and the number is the
// account's; operator mode has nothing to check.
func (n *Network) Validate(ctx context.Context, creds transports.Credentials) error {
	if n.cfg.Mode != ModeOwn {
		return nil
	}
	phone, err := Normalize(creds["phone"], n.cfg.DefaultCountry)
	if err != nil {
		return err
	}
	if !e164.MatchString(string(phone)) {
		return fmt.Errorf("%w: a short code cannot be your number", transports.ErrInvalidInput)
	}
	return n.twilioFor(creds["account_sid"], creds["auth_token"]).checkNumber(ctx, string(phone))
}

// numberOf is the user's number in creds as Register stored them.
func (n *Network) numberOf(creds transports.Credentials) string {
	if n.cfg.Mode == ModeOwn {
		return creds["phone"]
	}
	return creds["number"]
}

// Register implements transports.Registrar. Operator mode: the user keeps
// the number they had, or gets the first free one of the pool, claimed
// with compare-and-set so two users never get the same one. Own mode:
// the user's number (normalised) is claimed for them; a number another
// user has is refused.
func (n *Network) Register(ctx context.Context, user string, creds transports.Credentials) (transports.Credentials, error) {
	st := n.Hooks().Store
	if st == nil {
		return nil, fmt.Errorf("%w: the network is not attached", transports.ErrUnavailable)
	}
	out := maps.Clone(creds)
	if out == nil {
		out = transports.Credentials{}
	}
	if n.cfg.Mode == ModeOwn {
		phone, err := Normalize(creds["phone"], n.cfg.DefaultCountry)
		if err != nil {
			return nil, err
		}
		if err := n.claim(ctx, st, user, string(phone)); err != nil {
			return nil, err
		}
		if old, err := st.Get(ctx, keyUser+user); err == nil && string(old) != string(phone) {
			if _, err := st.CompareAndSwap(ctx, keyNumber+string(old), []byte(user), nil); err != nil {
				return nil, err
			}
		}
		if err := st.Put(ctx, keyUser+user, []byte(phone)); err != nil {
			return nil, err
		}
		out["phone"] = string(phone)
		return out, nil
	}
	if num, err := st.Get(ctx, keyUser+user); err == nil {
		if owner, err := st.Get(ctx, keyNumber+string(num)); err == nil && string(owner) == user {
			out["number"] = string(num)
			return out, nil
		}
	} else if !errors.Is(err, transports.ErrNotFound) {
		return nil, err
	}
	for _, num := range n.cfg.Numbers {
		ok, err := st.CompareAndSwap(ctx, keyNumber+num, nil, []byte(user))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if err := st.Put(ctx, keyUser+user, []byte(num)); err != nil {
			return nil, err
		}
		out["number"] = num
		return out, nil
	}
	return nil, fmt.Errorf("%w: no free number left; ask the admin", transports.ErrLimit)
}

// claim makes phone user's in the store, unless another user has it.
func (n *Network) claim(ctx context.Context, st transports.NetStore, user, phone string) error {
	ok, err := st.CompareAndSwap(ctx, keyNumber+phone, nil, []byte(user))
	if err != nil || ok {
		return err
	}
	owner, err := st.Get(ctx, keyNumber+phone)
	if err != nil {
		return err
	}
	if string(owner) != user {
		return fmt.Errorf("%w: %s is registered by another user of this gateway", transports.ErrConflict, phone)
	}
	return nil
}

// Unregister implements transports.Registrar: the user's number (the
// registration's, and the one an administrator assigned since) is free
// again, unless another user holds it by now, and its group texts are
// nobody's until it is given again (groupmove.go).
func (n *Network) Unregister(ctx context.Context, user string, creds transports.Credentials) error {
	st := n.Hooks().Store
	if st == nil {
		return fmt.Errorf("%w: the network is not attached", transports.ErrUnavailable)
	}
	nums := []string{n.numberOf(creds)}
	if cur, err := st.Get(ctx, keyUser+user); err == nil {
		nums = append(nums, string(cur)) // an administrator's later assignment
	} else if !errors.Is(err, transports.ErrNotFound) {
		return err
	}
	for _, num := range nums {
		if num == "" {
			continue
		}
		freed, err := st.CompareAndSwap(ctx, keyNumber+num, []byte(user), nil)
		if err != nil {
			return err
		}
		if freed {
			if _, err := n.moveGroups(ctx, num, ""); err != nil {
				return err
			}
		}
	}
	return st.Delete(ctx, keyUser+user)
}

// Hooks returns what the gateway attached (the zero Hooks before).
func (n *Network) Hooks() transports.Hooks {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hooks
}

// Connect implements transports.Network. A session holds no connection:
// it sends through the provider's API when asked.
func (n *Network) Connect(ctx context.Context, acct transports.Account, sink transports.Sink) (transports.Adapter, error) {
	from := n.numberOf(acct.Credentials)
	if !e164.MatchString(from) {
		return nil, fmt.Errorf("%w: the registration has no number; register again", transports.ErrBadCredentials)
	}
	a := &adapter{net: n, user: acct.User, from: from, sink: sink, store: acct.Store}
	if n.cfg.Mode != ModeOwn {
		tellNumber(ctx, acct.Store, sink, from)
	}
	switch {
	case n.kannel != nil:
		a.send = n.kannelSend
	case n.cfg.Mode == ModeOwn:
		a.tw = n.twilioFor(acct.Credentials["account_sid"], acct.Credentials["auth_token"])
		a.send = n.twilioSend(a.tw)
	default:
		a.tw = n.twilio
		a.send = n.twilioSend(n.twilio)
	}
	return a, nil
}

// toldKey is the user's store key of the number they were last told is
// theirs.
const toldKey = "told-number"

// tellNumber tells the user the number the operator's pool gave them
// (they did not type it, and have no other way to learn it), once per
// number: at the first session after it was assigned. A store that fails
// makes it tell again next time, never not at all.
func tellNumber(ctx context.Context, st transports.Store, sink transports.Sink, number string) {
	if st != nil {
		if v, err := st.Get(ctx, toldKey); err == nil && string(v) == number {
			return
		}
	}
	sink.Deliver(&transports.NoticeEvent{Text: "Your number is " + number +
		": texts to it reach you here, and what you send to a phone number's contact through this gateway goes out from it."})
	if st != nil {
		_ = st.Put(ctx, toldKey, []byte(number))
	}
}

// token is the auth token that signs the Twilio webhooks of number: the
// operator's, or in own mode the one the number's owner registered with,
// read from their sealed registration whether or not their session runs
// (so a text to an offline user is checked and kept for them). A number
// nobody has, or whose owner's registration names another number, is
// refused with 403: no token can check its signature. The token is never
// logged.
func (n *Network) token(ctx context.Context, number string) (string, error) {
	if n.cfg.Mode != ModeOwn {
		return n.cfg.Twilio.AuthToken, nil
	}
	if !e164.MatchString(number) {
		return "", refuse(http.StatusForbidden, "%q is not an E.164 number, so no auth token checks the signature", clip(number))
	}
	h := n.Hooks()
	if h.Credentials == nil {
		return "", refuse(http.StatusServiceUnavailable, "the gateway gives no access to users' credentials")
	}
	user, err := h.Store.Get(ctx, keyNumber+number)
	if errors.Is(err, transports.ErrNotFound) {
		return "", refuse(http.StatusForbidden, "no user has %s, so no auth token checks the signature", number)
	} else if err != nil {
		return "", fmt.Errorf("%w: looking up %s: %w", transports.ErrUnavailable, number, err)
	}
	creds, err := h.Credentials.Credentials(ctx, string(user))
	switch {
	case errors.Is(err, transports.ErrNotFound):
		return "", refuse(http.StatusForbidden, "the owner of %s is not registered, so no auth token checks the signature", number)
	case err != nil:
		return "", fmt.Errorf("%w: reading the registration of %s's owner: %w", transports.ErrUnavailable, number, err)
	case creds["phone"] != number || creds["auth_token"] == "":
		return "", refuse(http.StatusForbidden, "the registration of %s's owner names another number", number)
	}
	return creds["auth_token"], nil
}
