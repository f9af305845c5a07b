package discord

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Text between XMPP and Discord, as pure functions: Discord's 2 000-
// character limit, and mentions, which Discord writes as <@id>, <@&role>
// and <#channel> and XMPP readers want as @nick, @role and #channel.

const (
	// maxMessageRunes is the most characters Discord takes in one
	// message.
	maxMessageRunes = 2000
	// maxParts is the most messages one XMPP message becomes; a longer
	// body is refused with a text rather than flood a channel.
	maxParts = 4
)

// splitMessage cuts s into pieces of at most max characters, at the last
// line break, else the last space, of each piece when there is one in its
// second half; pieces are never empty. An empty s is one empty piece.
func splitMessage(s string, max int) []string {
	var parts []string
	for utf8.RuneCountInString(s) > max {
		// the byte offset of rune max
		end, n := 0, 0
		for i := range s {
			if n == max {
				end = i
				break
			}
			n++
		}
		at := end
		if i := strings.LastIndexByte(s[:end], '\n'); i > end/2 {
			at = i
		} else if i := strings.LastIndexByte(s[:end], ' '); i > end/2 {
			at = i
		}
		parts = append(parts, s[:at])
		s = s[at:]
		if at != end { // drop the separator the cut was made at
			s = s[1:]
		}
	}
	return append(parts, s)
}

var (
	userMention    = regexp.MustCompile(`<@!?([0-9]{1,20})>`)
	roleMention    = regexp.MustCompile(`<@&([0-9]{1,20})>`)
	channelMention = regexp.MustCompile(`<#([0-9]{1,20})>`)
	customEmoji    = regexp.MustCompile(`<a?:([A-Za-z0-9_~]{1,32}):[0-9]{1,20}>`)
)

// names resolves the snowflakes a message mentions to readable names;
// each returns "" when it does not know the ID.
type names struct {
	user    func(id string) string
	role    func(id string) string
	channel func(id string) string
}

// readable turns Discord's mention markup into text: <@id> into @name,
// <@&id> into @role, <#id> into #channel, custom emoji into :name:.
// Unknown IDs stay as Discord wrote them.
func readable(s string, nm names) string {
	if !strings.Contains(s, "<") {
		return s
	}
	sub := func(re *regexp.Regexp, prefix string, name func(string) string) {
		if name == nil {
			return
		}
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			if n := name(re.FindStringSubmatch(m)[1]); n != "" {
				return prefix + n
			}
			return m
		})
	}
	sub(userMention, "@", nm.user)
	sub(roleMention, "@", nm.role)
	sub(channelMention, "#", nm.channel)
	return customEmoji.ReplaceAllString(s, ":$1:")
}

// markup turns "@nick" of a room's occupants into <@id> mentions, so that
// Discord notifies them: nicks maps the room's nicks to user IDs. The
// longest nick that follows an "@" at the start of s or after a space
// wins, and only when it ends there (end of text, space or punctuation).
func markup(s string, nicks map[string]string) string {
	if len(nicks) == 0 || !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '@' || (i > 0 && s[i-1] != ' ' && s[i-1] != '\n' && s[i-1] != '(') {
			b.WriteByte(s[i])
			i++
			continue
		}
		best, id := "", ""
		for nick, uid := range nicks {
			rest := s[i+1:]
			if len(nick) > len(best) && strings.HasPrefix(rest, nick) && endsWord(rest[len(nick):]) {
				best, id = nick, uid
			}
		}
		if best == "" {
			b.WriteByte('@')
			i++
			continue
		}
		b.WriteString("<@" + id + ">")
		i += 1 + len(best)
	}
	return b.String()
}

func endsWord(rest string) bool {
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return strings.ContainsRune(" \n\t.,:;!?)'\"", r)
}
