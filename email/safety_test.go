package email

import (
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/switchboard-im/switchboard/transports"
)

// TestHiddenFormatDropped: bidi controls and other invisible format
// characters never reach a sender's name, a subject or a file name.
func TestHiddenFormatDropped(t *testing.T) {
	for _, tc := range []struct {
		name, in, line, file string
	}{
		{"RLO in a file name", "invoice\u202Efdp.exe", "invoicefdp.exe", "invoicefdp.exe"},
		{"LRE PDF", "a\u202Ab\u202Cc", "abc", "abc"},
		{"RLE LRO", "\u202Bx\u202Dy", "xy", "xy"},
		{"isolates", "\u2066left\u2069 \u2067right\u2069 \u2068first\u2069", "left right first", "left right first"},
		{"marks", "A\u200EB\u200FC\u061CD", "ABCD", "ABCD"},
		{"zero width space and BOM", "pay\u200Bpal\uFEFF", "paypal", "paypal"},
		{"tag characters", "hi\U000E0041\U000E0042", "hi", "hi"},
		{"soft hyphen", "in\u00ADvoice", "invoice", "invoice"},
		{"controls become spaces", "a\tb\x00c\u0085d", "a b c d", "a b c d"},
		{"joiners kept", "👨\u200D👩 می\u200Cخواهم", "👨\u200D👩 می\u200Cخواهم", "👨\u200D👩 می\u200Cخواهم"},
		{"plain text untouched", "Grüße, Zoë", "Grüße, Zoë", "Grüße, Zoë"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cleanLine(tc.in); got != tc.line {
				t.Errorf("cleanLine(%+q) = %+q, want %+q", tc.in, got, tc.line)
			}
			if got := safeFileName(tc.in); got != tc.file {
				t.Errorf("safeFileName(%+q) = %+q, want %+q", tc.in, got, tc.file)
			}
		})
	}
}

// TestParseDropsBidi: the same through Parse, for each field.
func TestParseDropsBidi(t *testing.T) {
	raw := "From: \"Bob\u202E evil\" <bob@example.org>\r\n" +
		"Subject: =?utf-8?q?Invoice_=E2=80=AEfdp.exe?=\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe\r\n\r\nMZ\r\n--b--\r\n"
	in, err := Parse(strings.NewReader(raw), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if in.FromName != "Bob evil" || in.Subject != "Invoice fdp.exe" {
		t.Errorf("FromName %+q, Subject %+q", in.FromName, in.Subject)
	}
	if len(in.Attachments) != 1 || in.Attachments[0].Name != "invoicefdp.exe" {
		t.Errorf("attachments %+v", in.Attachments)
	}
}

// manyAttachments is a mail with n small attachments.
func manyAttachments(n int) string {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nSubject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfiles\r\n")
	for i := range n {
		fmt.Fprintf(&b, "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=f%d.bin\r\n\r\ndata %d\r\n", i, i)
	}
	b.WriteString("--b--\r\n")
	return b.String()
}

// TestParseAttachmentCount: only the first MaxAttachments files keep
// their data; the others are still listed, by name and size.
func TestParseAttachmentCount(t *testing.T) {
	for _, tc := range []struct {
		name       string
		parts, max int
		listed     int
		withData   int
	}{
		{"default keeps 10", 100, 0, 100, DefaultMaxAttachments},
		{"configured 3", 5, 3, 5, 3},
		{"fewer than the limit", 2, 0, 2, 2},
		{"a thousand parts", 1500, 0, maxParts - 1, DefaultMaxAttachments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := Parse(strings.NewReader(manyAttachments(tc.parts)), Limits{MaxAttachments: tc.max})
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Attachments) != tc.listed {
				t.Fatalf("%d attachments listed, want %d", len(in.Attachments), tc.listed)
			}
			withData := 0
			for i, a := range in.Attachments {
				if a.Name != fmt.Sprintf("f%d.bin", i) || a.Size != int64(len(fmt.Sprintf("data %d", i))) {
					t.Errorf("attachment %d: %q, %d bytes", i, a.Name, a.Size)
				}
				if a.Kept() {
					withData++
					if i >= tc.withData || a.OverCount {
						t.Errorf("attachment %d keeps its data (OverCount %v)", i, a.OverCount)
					}
				} else if !a.OverCount || a.TooLarge {
					t.Errorf("attachment %d: no data, OverCount %v, TooLarge %v", i, a.OverCount, a.TooLarge)
				}
			}
			if withData != tc.withData {
				t.Errorf("%d attachments with data, want %d", withData, tc.withData)
			}
		})
	}
}

func testAdapter(t *testing.T) *adapter {
	t.Helper()
	n := New(Config{})
	l, err := n.login(transports.Credentials{"address": "user@example.org", "password": "pw"})
	if err != nil {
		t.Fatal(err)
	}
	return newAdapter(n, transports.Account{User: "user@example.net", Store: newMemStore()}, l, transports.SinkFunc(func(transports.Event) {}))
}

func mustParse(t *testing.T, raw string) *Incoming {
	t.Helper()
	in, err := Parse(strings.NewReader(raw), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestThreadNotHijacked: a mail from M that copies A's References shares
// A's thread ID, but the user's next reply to A carries none of M's IDs
// or subject; a reply to M stays in M's conversation.
func TestThreadNotHijacked(t *testing.T) {
	a := testAdapter(t)
	fromA := mustParse(t, "From: Alice <a@example.org>\r\nSubject: Plans\r\nMessage-ID: <a1@example.org>\r\n\r\nlunch?\r\n")
	fromM := mustParse(t, "From: Mallory <m@evil.example>\r\nSubject: Wire the money\r\nMessage-ID: <m1@evil.example>\r\n"+
		"References: <a1@example.org>\r\nIn-Reply-To: <a1@example.org>\r\n\r\nurgent\r\n")
	if fromA.Thread != fromM.Thread {
		t.Fatalf("threads %q and %q: the test needs them equal", fromA.Thread, fromM.Thread)
	}
	a.rememberThread(fromA)
	a.rememberThread(fromM)

	toA := a.outgoing(t.Context(), transports.Message{To: "a@example.org", Thread: fromA.Thread, Body: "yes"}, &mail.Address{Address: "a@example.org"})
	if toA.Subject != "Re: Plans" || toA.InReplyTo != "a1@example.org" || !slices.Equal(toA.References, []string{"a1@example.org"}) {
		t.Errorf("reply to A: subject %q, In-Reply-To %q, References %q", toA.Subject, toA.InReplyTo, toA.References)
	}
	// Addresses compare without case.
	toA2 := a.outgoing(t.Context(), transports.Message{To: "A@Example.org", Thread: fromA.Thread}, &mail.Address{Address: "A@Example.org"})
	if toA2.Subject != "Re: Plans" {
		t.Errorf("reply to A in other case: subject %q", toA2.Subject)
	}
	toM := a.outgoing(t.Context(), transports.Message{To: "m@evil.example", Thread: fromM.Thread}, &mail.Address{Address: "m@evil.example"})
	if toM.Subject != "Re: Wire the money" || toM.InReplyTo != "m1@evil.example" {
		t.Errorf("reply to M: subject %q, In-Reply-To %q", toM.Subject, toM.InReplyTo)
	}
}

// TestUIDsAfter: a search result's ranges are read without expanding
// them, whatever the server sends.
func TestUIDsAfter(t *testing.T) {
	set := func(r ...imap.UIDRange) *imap.SearchData { return &imap.SearchData{All: imap.UIDSet(r)} }
	for _, tc := range []struct {
		name  string
		res   *imap.SearchData
		last  imap.UID
		limit int
		want  []imap.UID
	}{
		{"nil", nil, 0, 5, nil},
		{"not UIDs", &imap.SearchData{All: imap.SeqSetNum(1, 2)}, 0, 5, nil},
		{"plain list", set(imap.UIDRange{Start: 3, Stop: 3}, imap.UIDRange{Start: 1, Stop: 1}), 0, 5, []imap.UID{1, 3}},
		{"below last dropped", set(imap.UIDRange{Start: 1, Stop: 9}), 7, 5, []imap.UID{8, 9}},
		{"huge range cut", set(imap.UIDRange{Start: 1, Stop: 4294967295}), 0, 3, []imap.UID{1, 2, 3}},
		{"top of the range", set(imap.UIDRange{Start: 4294967294, Stop: 4294967295}), 0, 5, []imap.UID{4294967294, 4294967295}},
		{"reversed", set(imap.UIDRange{Start: 6, Stop: 4}), 0, 5, []imap.UID{4, 5, 6}},
		{"star", set(imap.UIDRange{Start: 5, Stop: 0}), 0, 5, []imap.UID{5}},
		{"overlaps", set(imap.UIDRange{Start: 2, Stop: 4}, imap.UIDRange{Start: 3, Stop: 6}, imap.UIDRange{Start: 1, Stop: 1}), 0, 4, []imap.UID{1, 2, 3, 4}},
		{"last at the top", set(imap.UIDRange{Start: 1, Stop: 4294967295}), 4294967295, 5, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := uidsAfter(tc.res, tc.last, tc.limit); !slices.Equal(got, tc.want) {
				t.Errorf("uidsAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCapGuard: the guard refuses exactly the capability lists with "("
// that hang go-imap, wherever the reads split the stream.
func TestCapGuard(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"greeting with capabilities", "* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n", true},
		{"paren in the greeting's capabilities", "* OK [CAPABILITY IMAP4rev1 (\r\n", false},
		{"paren right after the code", "* OK [CAPABILITY(\r\n", false},
		{"untagged CAPABILITY", "* CAPABILITY IMAP4rev1 X(\r\n", false},
		{"untagged lower case", "* capability imap4rev1 (x)\r\n", false},
		{"ENABLED", "* ENABLED (\r\n", false},
		{"tagged code", "T1 OK [CAPABILITY IMAP4rev1 (x)] logged in\r\n", false},
		{"text that says Capability", "T2 OK Capability completed (0.001 secs).\r\n", true},
		{"flags", "* FLAGS (\\Seen \\Answered)\r\n* OK [PERMANENTFLAGS (\\Seen)] ok\r\n", true},
		{"quoted", "* 1 FETCH (ENVELOPE (NIL \"* CAPABILITY (\" NIL))\r\n", true},
		{"literal", "* 1 FETCH (BODY[] {16}\r\n* CAPABILITY (\r\n)\r\n", true},
		{"after a literal", "* 1 FETCH (BODY[] {3}\r\nabc)\r\n* CAPABILITY (\r\n", false},
		{"non-synchronising literal", "* 1 FETCH (BODY[] {16+}\r\n* CAPABILITY (\r\n)\r\nT1 OK done\r\n", true},
		{"capabilities then a list", "* CAPABILITY IMAP4rev1\r\n* LIST (\\HasNoChildren) \"/\" INBOX\r\n", true},
	} {
		for _, chunk := range []int{1, 3, len(tc.in)} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, chunk), func(t *testing.T) {
				g := &capGuard{}
				ok := true
				for i := 0; i < len(tc.in) && ok; i += chunk {
					ok = g.scan([]byte(tc.in[i:min(i+chunk, len(tc.in))]))
				}
				if ok != tc.ok {
					t.Errorf("scan(%q) = %v, want %v", tc.in, ok, tc.ok)
				}
			})
		}
	}
}

// FuzzCapGuard: the guard never panics, and its verdict on a stream does
// not depend on how reads split it.
func FuzzCapGuard(f *testing.F) {
	f.Add([]byte("* OK [CAPABILITY IMAP4rev1 (\r\n"), uint8(1))
	f.Add([]byte("* OK [CAPABILITY IMAP4rev1] ready\r\nT1 OK Capability completed (0.001 secs).\r\n"), uint8(3))
	f.Add([]byte("* 1 FETCH (BODY[] {16}\r\n* CAPABILITY (\r\n)\r\n* CAPABILITY X(\r\n"), uint8(5))
	f.Add([]byte("* 1 FETCH (ENVELOPE (NIL \"a\\\"* CAPABILITY (\" NIL))\r\n"), uint8(2))
	f.Add([]byte("* ENABLED (\r\n"), uint8(7))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		whole := (&capGuard{}).scan(in)
		g := &capGuard{}
		step := int(chunk)%16 + 1
		split := true
		for i := 0; i < len(in) && split; i += step {
			split = g.scan(in[i:min(i+step, len(in))])
		}
		if whole != split {
			t.Fatalf("scan(%q) = %v whole, %v in chunks of %d", in, whole, split, step)
		}
	})
}

// TestRecovered: a panic under Validate, Connect or Send becomes an
// error, logged with its stack.
func TestRecovered(t *testing.T) {
	var logs strings.Builder
	n := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	err := func() (err error) {
		defer n.recovered(&err, "testing")
		var m map[string]int
		m["x"] = 1 // a nil map write panics
		return nil
	}()
	if !errors.Is(err, transports.ErrUnavailable) || !strings.Contains(err.Error(), "internal error while testing") {
		t.Errorf("err = %v", err)
	}
	if !strings.Contains(logs.String(), "assignment to entry in nil map") || !strings.Contains(logs.String(), "stack=") {
		t.Errorf("log: %s", logs.String())
	}
}
