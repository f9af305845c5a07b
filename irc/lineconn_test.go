package irc

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/transports"
)

// readLines reads every line of in through a lineReader.
func readLines(t *testing.T, in string, max, hard int) (lines []string, cuts []bool, err error) {
	t.Helper()
	lr := newLineReader(strings.NewReader(in), max, hard)
	for {
		l, cut, err := lr.next()
		if err != nil {
			return lines, cuts, err
		}
		lines = append(lines, string(l))
		cuts = append(cuts, cut)
	}
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		lines []string
		cuts  []bool
		err   error
	}{
		{"crlf and lf", "a\r\nb\nc\r\n", []string{"a", "b", "c"}, []bool{false, false, false}, io.EOF},
		{"exactly max", "0123456789\r\nx\n", []string{"0123456789", "x"}, []bool{false, false}, io.EOF},
		{"one over", "0123456789A\r\nx\n", []string{"0123456789", "x"}, []bool{true, false}, io.EOF},
		{"long then hi", strings.Repeat("y", 1000) + "\r\nhi\r\n", []string{"yyyyyyyyyy", "hi"}, []bool{true, false}, io.EOF},
		{"cut at a rune boundary", "012345678é\r\n", []string{"012345678"}, []bool{true}, io.EOF},
		{"endless", strings.Repeat("z", 5000), nil, nil, errLineTooLong},
		{"partial line at EOF", "ab\r\ncd", []string{"ab"}, []bool{false}, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, cuts, err := readLines(t, tt.in, 10, 2000)
			if !errors.Is(err, tt.err) {
				t.Errorf("err = %v, want %v", err, tt.err)
			}
			if strings.Join(lines, "|") != strings.Join(tt.lines, "|") {
				t.Errorf("lines = %q, want %q", lines, tt.lines)
			}
			for i := range min(len(cuts), len(tt.cuts)) {
				if cuts[i] != tt.cuts[i] {
					t.Errorf("line %d cut = %v, want %v", i, cuts[i], tt.cuts[i])
				}
			}
		})
	}
}

func TestFilterLine(t *testing.T) {
	tests := []struct {
		in   string
		cut  bool
		want string // "" = dropped
	}{
		{"PING :x", false, "PING :x\r\n"},
		{":srv 001 me :Welcome", false, ":srv 001 me :Welcome\r\n"},
		{"001 me :no prefix numeric", false, "001 me :no prefix numeric\r\n"},
		{"NOTICE * :*** Looking up your hostname", false, "NOTICE * :*** Looking up your hostname\r\n"},
		{"PRIVMSG me :\x01VERSION\x01", false, ""},
		{"NOTICE me :\x01VERSION x\x01", false, ""},
		{"PRIVMSG #c :hello", false, ""},
		{"AWAY :x", false, ""},
		{"JOIN #c", false, ""},
		{"@account=a 001 me :x", false, ""},
		{":bob!b@h PRIVMSG me :\x01VERSION\x01", false, ":bob!b@h PRIVMSG me :\x01VERSION\x01\r\n"},
		{":bob!b@h PRIVMSG me :\x01ACTION waves\x01", false, ":bob!b@h PRIVMSG me :\x01ACTION waves\x01\r\n"},
		{":bob!b@h PRIVMSG me :\x01DCC SEND x 1 1 1\x01", false, ""},
		{":bob!b@h PRIVMSG me :\x01CLIENTINFO\x01", false, ""},
		{":bob!b@h PRIVMSG #c :long", true, ":bob!b@h PRIVMSG #c :long" + cutNote + "\r\n"},
		{":bob!b@h MODE #c +o", true, ":bob!b@h MODE #c +o\r\n"},
		{"", false, ""},
		{":", false, ""},
	}
	for _, tt := range tests {
		out, ok := filterLine([]byte(tt.in), tt.cut)
		if got := string(out); ok != (tt.want != "") || got != tt.want {
			t.Errorf("filterLine(%q, %v) = %q, %v; want %q", tt.in, tt.cut, got, ok, tt.want)
		}
	}
}

// H3: a 1 MB PRIVMSG reaches the user cut, with a note, and the next
// message follows; an endless line then drops the connection, and the
// user is told.
func TestLongLines(t *testing.T) {
	s, n := newScripted(t)
	a, sink := connectScripted(t, s, n, "")
	joinScripted(t, s, a)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		s.conn.Write([]byte(":bob!b@h PRIVMSG #c :" + strings.Repeat("é", 500_000) + "\r\n")) // 1 MB
	}()
	var cut *transports.MessageEvent
	deadline := time.After(10 * time.Second)
	for cut == nil {
		select {
		case ev := <-sink:
			if m, ok := ev.(*transports.MessageEvent); ok && m.Room {
				cut = m
			}
		case <-deadline:
			t.Fatal("no cut message")
		}
	}
	if !strings.HasSuffix(cut.Body, cutNote) || len(cut.Body) > maxLineBytes+len(cutNote) || !utf8.ValidString(cut.Body) ||
		strings.Trim(strings.TrimSuffix(cut.Body, cutNote), "é") != "" {
		t.Errorf("cut message: %d bytes, ends %q", len(cut.Body), cut.Body[max(0, len(cut.Body)-40):])
	}
	<-wrote
	s.send(":bob!b@h PRIVMSG #c :hi")
	sink.waitMessage(t, "hi")

	// An endless line: the connection is dropped once the line passed
	// the cap, and the room is told.
	chunk := strings.Repeat("A", 64<<10)
	go func() {
		for range (maxDiscardBytes / len(chunk)) + 4 {
			if _, err := s.conn.Write([]byte(chunk)); err != nil {
				return
			}
		}
	}()
	deadline = time.After(10 * time.Second)
	for {
		select {
		case ev := <-sink:
			if nt, ok := ev.(*transports.NoticeEvent); ok && nt.Error && strings.Contains(nt.Text, "longer than 2 MiB") {
				return
			}
		case <-deadline:
			t.Fatal("the user was not told of the dropped connection")
		}
	}
}

// FuzzLineReader: whatever a server sends, lines stay bounded, carry no
// line ending, and what filterLine keeps is one parseable line.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("PING :x\r\n:a!b@c PRIVMSG #c :hi\r\n"))
	f.Add([]byte(strings.Repeat("x", 300) + "\n" + strings.Repeat("é", 100) + "\r\n"))
	f.Add([]byte("PRIVMSG me :\x01VERSION\x01\r\n@account=x 001 :y\r\n\r\n\n:\n"))
	f.Add([]byte("\xff\xfe\xc3\r\n:\xc3 PRIVMSG \xff :\xe2\x82\n"))
	f.Add(bytes.Repeat([]byte("A"), 5000))
	f.Fuzz(func(t *testing.T, in []byte) {
		const max, hard = 64, 1024
		lr := newLineReader(bytes.NewReader(in), max, hard)
		for {
			line, cut, err := lr.next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, errLineTooLong) {
					t.Fatalf("error %v", err)
				}
				return
			}
			if len(line) > max {
				t.Fatalf("line of %d bytes", len(line))
			}
			if !cut && bytes.ContainsAny(line, "\n") {
				t.Fatalf("line %q holds a line feed", line)
			}
			out, ok := filterLine(line, cut)
			if !ok {
				continue
			}
			if !bytes.HasSuffix(out, []byte("\r\n")) || girc.ParseEvent(string(out)) == nil {
				t.Fatalf("kept %q", out)
			}
		}
	})
}

// filterLine is filterEvent's decision and kept line, with its line
// ending, as the tables above state them.
func filterLine(line []byte, cut bool) ([]byte, bool) {
	s, _, ok := filterEvent(line, cut)
	if !ok {
		return nil, false
	}
	return []byte(s + "\r\n"), true
}
