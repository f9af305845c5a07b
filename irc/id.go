package irc

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/transports"
)

// Limits on the parts of an ID, in bytes.
const (
	idMaxChannel = 200
	idMaxNick    = 64
	idMaxServer  = 253
	idMaxLabel   = 63
)

// Target is what an ID names: a channel or a nick on a server, or the
// server itself. At most one of Channel and Nick is set; Server is a valid
// host name in lower case. Channel and Nick keep the case they were given
// in: IRC is case-preserving, compare them with EqualFold.
type Target struct {
	Server  string
	Channel string
	Nick    string
}

// ParseID parses an ID of the IRC network. IDs are the localparts of the
// gateway's JIDs, already XEP-0106-unescaped by the component:
//
//	#chan%irc.example.net   channel #chan on irc.example.net
//	nick%irc.example.net    user nick on irc.example.net
//	irc.example.net         the server itself (its notices, MOTD, list)
//	%localhost              the server itself, for a name without a dot
//	#chan, nick             on defaultServer
//
// The ID is split at its last '%', so channel names may contain '%'
// ("#50%off%irc.example.net"). Without a '%', an ID with a dot that does
// not start with a channel prefix is a server (nicks have no dots), and
// anything else is a channel or nick on defaultServer; defaultServer ""
// means IDs must name their server.
//
// A channel starts with '#', '&', '+' or '!' and is 2 to 200 bytes of
// valid UTF-8 without space, comma, BEL, NUL, CR or LF. A nick is 1 to 64
// bytes; its first byte is an ASCII letter or one of []\`_^{|}, the others
// may also be digits or '-' (RFC 2812). A server is a host name (ASCII
// letters, digits and '-' in dot-separated labels, 253 bytes at most) or
// an IPv4 address; it is returned in lower case. Ports are never part of
// an ID: they come from the configuration. IPv6 literals, '_' in host
// names and internationalised names (other than in their xn-- form) are
// not supported.
//
// Errors wrap transports.ErrInvalidInput and carry a text for the user.
func ParseID(id transports.ID, defaultServer string) (Target, error) {
	s := string(id)
	if i := strings.LastIndexByte(s, '%'); i >= 0 {
		name, server := s[:i], s[i+1:]
		if server == "" {
			return Target{}, invalidID("no IRC server after %% in %q", s)
		}
		server, err := parseIDServer(server)
		if err != nil {
			return Target{}, err
		}
		if name == "" {
			return Target{Server: server}, nil
		}
		return parseIDName(name, server)
	}
	if s == "" {
		return Target{}, invalidID("empty address: use #chan%%irc.example.net, nick%%irc.example.net or irc.example.net")
	}
	if strings.IndexByte(s, '.') >= 0 && !isChanPrefix(s[0]) {
		// Nicks cannot contain '.', so this is a server.
		server, err := parseIDServer(s)
		if err != nil {
			return Target{}, err
		}
		return Target{Server: server}, nil
	}
	if defaultServer == "" {
		if isChanPrefix(s[0]) {
			return Target{}, invalidID("no IRC server given: use #chan%%irc.example.net")
		}
		return Target{}, invalidID("no IRC server given: use nick%%irc.example.net or #chan%%irc.example.net")
	}
	server, err := parseIDServer(defaultServer)
	if err != nil {
		return Target{}, invalidID("the default IRC server %q is not a host name", defaultServer)
	}
	return parseIDName(s, server)
}

// ID returns the ID naming t: the short form ("#chan", "nick") when t is on
// defaultServer (compared without regard to case) and defaultServer is
// not "", the long form ("#chan%irc.example.net") otherwise. A channel
// whose name contains '%' always gets the long form, since its short form
// would read as a channel on another server. The server itself is named
// by its name, or "%name" when the name has no dot (a bare "localhost"
// would read as a nick). If both Channel and Nick are set, Channel wins.
// ParseID(t.ID(d), d) gives t back for every t that ParseID returned.
func (t Target) ID(defaultServer string) transports.ID {
	name := t.Channel
	if name == "" {
		name = t.Nick
	}
	if name == "" {
		if strings.IndexByte(t.Server, '.') >= 0 {
			return transports.ID(t.Server)
		}
		return transports.ID("%" + t.Server)
	}
	if defaultServer != "" && equalHostFold(t.Server, defaultServer) && strings.IndexByte(name, '%') < 0 {
		return transports.ID(name)
	}
	return transports.ID(name + "%" + t.Server)
}

// Kind returns what t names: a room (channel), a contact (nick) or the
// server itself, for transports.Addresser.
func (t Target) Kind() transports.IDKind {
	switch {
	case t.Channel != "":
		return transports.KindRoom
	case t.Nick != "":
		return transports.KindContact
	}
	return transports.KindServer
}

// invalidID returns an error wrapping transports.ErrInvalidInput with the
// formatted text.
func invalidID(format string, args ...any) error {
	return fmt.Errorf("%w: %s", transports.ErrInvalidInput, fmt.Sprintf(format, args...))
}

// isChanPrefix reports whether c starts a channel name (RFC 2812
// channel types, which is what CHANTYPES offers on practically every
// network).
func isChanPrefix(c byte) bool {
	return c == '#' || c == '&' || c == '+' || c == '!'
}

// parseIDName parses the channel or nick part of an ID on server.
func parseIDName(name, server string) (Target, error) {
	if isChanPrefix(name[0]) {
		if err := checkIDChannel(name); err != nil {
			return Target{}, err
		}
		return Target{Server: server, Channel: name}, nil
	}
	if err := checkIDNick(name); err != nil {
		return Target{}, err
	}
	return Target{Server: server, Nick: name}, nil
}

// checkIDChannel checks a channel name that starts with a channel
// prefix: 2 to 200 bytes of valid UTF-8 without space, comma, BEL, NUL, CR
// or LF (RFC 2812 also forbids ':', but networks accept it).
func checkIDChannel(name string) error {
	if len(name) < 2 {
		return invalidID("%q is not a channel name: it needs a name after the %q", name, name[:1])
	}
	if len(name) > idMaxChannel {
		return invalidID("the channel name is longer than %d bytes", idMaxChannel)
	}
	if !utf8.ValidString(name) {
		return invalidID("the channel name %q is not valid UTF-8", name)
	}
	if i := strings.IndexAny(name, " ,\a\x00\r\n"); i >= 0 {
		return invalidID("the channel name %q contains %q, which IRC does not allow", name, name[i:i+1])
	}
	return nil
}

// checkIDNick checks a nick: 1 to 64 bytes; the first a letter or one of
// []\`_^{|}, the others also digits or '-' (RFC 2812, with the longer
// nicks servers allow today).
func checkIDNick(name string) error {
	if len(name) > idMaxNick {
		return invalidID("the nickname is longer than %d bytes", idMaxNick)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("[]\\`_^{|}", c) >= 0 ||
			i > 0 && (c >= '0' && c <= '9' || c == '-')
		if !ok {
			if i == 0 && (c >= '0' && c <= '9' || c == '-') {
				return invalidID("%q is not a valid IRC nickname: it must not start with %q", name, name[:1])
			}
			r, _ := utf8.DecodeRuneInString(name[i:])
			return invalidID("%q is not a valid IRC nickname: it must not contain %q", name, r)
		}
	}
	return nil
}

// parseIDServer checks a server name and returns it in lower case: a host
// name of dot-separated labels of ASCII letters, digits and '-' (not at
// either end of a label), at most 253 bytes, or an IPv4 address.
func parseIDServer(s string) (string, error) {
	if len(s) > idMaxServer {
		return "", invalidID("the IRC server name is longer than %d bytes", idMaxServer)
	}
	numeric := true
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return "", invalidID("%q is not an IRC server host name: empty label", s)
		}
		if len(label) > idMaxLabel {
			return "", invalidID("%q is not an IRC server host name: a label is longer than %d bytes", s, idMaxLabel)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", invalidID("%q is not an IRC server host name: a label starts or ends with '-'", s)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				numeric = false
			default:
				if c == ':' {
					return "", invalidID("%q is not an IRC server host name: give the port in the configuration, not in the address", s)
				}
				r, _ := utf8.DecodeRuneInString(label[i:])
				return "", invalidID("%q is not an IRC server host name: it must not contain %q", s, r)
			}
		}
	}
	if numeric {
		if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
			return "", invalidID("%q is not an IPv4 address", s)
		}
	}
	return strings.ToLower(s), nil
}

// FoldName returns s in the rfc1459 case mapping that IRC servers use to
// compare nicks and channel names: A-Z become a-z and []\~ become {}|^.
// Other bytes, including non-ASCII ones, are unchanged. Use it for map
// keys; a string already folded is returned without allocating.
func FoldName(s string) string {
	i := 0
	for i < len(s) && rfc1459Fold(s[i]) == s[i] {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		b[i] = rfc1459Fold(b[i])
	}
	return string(b)
}

// EqualFold reports whether a and b are the same nick or channel name
// under the rfc1459 case mapping (see FoldName), without allocating.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if rfc1459Fold(a[i]) != rfc1459Fold(b[i]) {
			return false
		}
	}
	return true
}

// equalHostFold reports whether a and b are equal under ASCII case
// folding, as host names compare. (strings.EqualFold would also match the
// Kelvin sign with 'k'.)
func equalHostFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// rfc1459Fold maps one byte under rfc1459 case mapping.
func rfc1459Fold(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + ('a' - 'A')
	case c == '[':
		return '{'
	case c == ']':
		return '}'
	case c == '\\':
		return '|'
	case c == '~':
		return '^'
	}
	return c
}
