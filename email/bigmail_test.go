package email

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// bigMail is a mail with a line of text and one base64 attachment of
// size pseudo-random bytes, generated as it is read, so that the test's
// input costs no memory either.
type bigMail struct {
	head, tail []byte
	left, size int64
	rng        *rand.ChaCha8
	raw        [57]byte
	line       [78]byte
	buf        []byte
	stage      int
	sum        hash.Hash // of the attachment's bytes generated so far
}

func newBigMail(size int64) *bigMail {
	return &bigMail{
		head: []byte("From: Big Sender <big@example.org>\r\nSubject: the archive\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=\"=_big\"\r\n\r\n--=_big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
			"Here is the archive.\r\n--=_big\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"archive.zip\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n"),
		tail: []byte("--=_big--\r\n"),
		left: size, size: size,
		rng: rand.NewChaCha8([32]byte{'s', 'w', 'b'}),
		sum: sha256.New(),
	}
}

// Len is the size of the whole mail.
func (m *bigMail) Len() int64 {
	lines := m.size / 57
	n := lines * 78
	if r := m.size % 57; r > 0 {
		n += int64(base64.StdEncoding.EncodedLen(int(r))) + 2
	}
	return int64(len(m.head)+len(m.tail)) + n
}

func (m *bigMail) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(m.buf) == 0 && !m.refill() {
			if n == 0 {
				return 0, io.EOF
			}
			break
		}
		k := copy(p[n:], m.buf)
		m.buf, n = m.buf[k:], n+k
	}
	return n, nil
}

func (m *bigMail) refill() bool {
	switch m.stage {
	case 0:
		m.buf, m.stage = m.head, 1
	case 1:
		if m.left == 0 {
			m.buf, m.stage = m.tail, 2
			break
		}
		k := int(min(57, m.left))
		m.rng.Read(m.raw[:k])
		m.sum.Write(m.raw[:k])
		e := base64.StdEncoding.EncodedLen(k)
		base64.StdEncoding.Encode(m.line[:e], m.raw[:k])
		m.line[e], m.line[e+1] = '\r', '\n'
		m.buf, m.left = m.line[:e+2], m.left-int64(k)
	default:
		return false
	}
	return true
}

// TestParseBigAttachmentBoundedMemory: a 50 MiB attachment goes through
// the walker into its spool file with a few hundred KiB allocated in all
// (the whole-message walker allocated the mail, then the attachment), and
// reads back byte for byte. Allocation is counted, not timed.
func TestParseBigAttachmentBoundedMemory(t *testing.T) {
	const size = 50 << 20
	m := newBigMail(size)
	sp := testSpool(t)
	lim := Limits{MaxAttachment: 64 << 20, MaxMessage: 128 << 20}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	in, err := parse(m, lim, sp)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d-byte mail with a %d-byte attachment: %d bytes allocated while parsing", m.Len(), size, allocated)
	if allocated > 4<<20 {
		t.Errorf("%d bytes allocated while parsing, want under 4 MiB", allocated)
	}
	if in.Body != "Here is the archive." || len(in.Attachments) != 1 {
		t.Fatalf("body %q, %d attachments", in.Body, len(in.Attachments))
	}
	a := &in.Attachments[0]
	if a.Name != "archive.zip" || a.Size != size || !a.Kept() {
		t.Fatalf("attachment %q, %d bytes, kept %v", a.Name, a.Size, a.Kept())
	}
	rc, err := a.Open()
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	if n, err := io.Copy(got, rc); err != nil || n != size {
		t.Fatalf("read %d bytes back: %v", n, err)
	}
	rc.Close()
	if !bytes.Equal(got.Sum(nil), m.sum.Sum(nil)) {
		t.Error("the spooled attachment differs from the one sent")
	}
}

// BenchmarkParseBigAttachment prints what parsing a mail with one
// attachment costs, streaming into the spool and, for comparison, with
// the whole-message walker it replaced: alloc-MiB/op is everything
// allocated per mail, an upper bound of the heap it needs.
func BenchmarkParseBigAttachment(b *testing.B) {
	for _, size := range []int64{1 << 20, 50 << 20} {
		lim := Limits{MaxAttachment: 64 << 20, MaxMessage: 128 << 20}
		b.Run(fmt.Sprintf("streaming/%dMiB", size>>20), func(b *testing.B) {
			sp := newSpool(b.TempDir())
			benchParse(b, size, func(r io.Reader) {
				in, err := parse(r, lim, sp)
				if err != nil {
					b.Fatal(err)
				}
				in.Close()
			})
		})
		b.Run(fmt.Sprintf("whole/%dMiB", size>>20), func(b *testing.B) {
			benchParse(b, size, func(r io.Reader) {
				if _, err := refParse(r, lim); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

func benchParse(b *testing.B, size int64, parse func(io.Reader)) {
	b.SetBytes(newBigMail(size).Len())
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := 0
	for b.Loop() {
		parse(newBigMail(size))
		n++
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n)/(1<<20), "alloc-MiB/op")
}
