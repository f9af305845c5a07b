// Package vcard is what the gateway says about who a legacy contact is:
// the vcard-temp card (XEP-0054) it answers for a contact's JID, and the
// avatar hash (XEP-0153) it puts in the contact's presence so clients
// know when to fetch the card again. It does no I/O beyond reading a
// picture it is handed, bounded.
package vcard

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Namespaces of XEP-0054 and XEP-0153.
const (
	NS       = "vcard-temp"
	NSUpdate = "vcard-temp:x:update"
)

// MaxPicture bounds a picture the gateway puts in a card: the card
// travels base64-encoded in one stanza, and stays well within the
// stanza limit of every server with this.
const MaxPicture = 96 << 10

// ErrTooLarge is returned by ReadPicture for a picture over its bound.
var ErrTooLarge = errors.New("picture too large")

// ErrNotImage is returned by ReadPicture for content that is not an image.
var ErrNotImage = errors.New("not an image")

// Picture is an avatar as the gateway keeps it: its bytes, MIME type and
// XEP-0153 hash.
type Picture struct {
	Type string
	Data []byte
	// Hash is the lower-case hex SHA-1 of Data, as XEP-0153 defines the
	// photo hash.
	Hash string
}

// ReadPicture reads a picture from r, at most max bytes (MaxPicture when
// max <= 0): more is ErrTooLarge. typ is the type the network declared;
// the content decides (http.DetectContentType), and anything that is not
// an image/* of a kind clients show is ErrNotImage. Errors never quote
// the content.
func ReadPicture(r io.Reader, typ string, max int64) (Picture, error) {
	if max <= 0 {
		max = MaxPicture
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return Picture{}, fmt.Errorf("vcard: read picture: %w", err)
	}
	if int64(len(data)) > max {
		return Picture{}, fmt.Errorf("vcard: %w (more than %d bytes)", ErrTooLarge, max)
	}
	sniffed := http.DetectContentType(data)
	if i := strings.IndexByte(sniffed, ';'); i >= 0 {
		sniffed = sniffed[:i]
	}
	if !shown[sniffed] {
		return Picture{}, fmt.Errorf("vcard: %w (declared %q)", ErrNotImage, cut(typ))
	}
	sum := sha1.Sum(data)
	return Picture{Type: sniffed, Data: data, Hash: hex.EncodeToString(sum[:])}, nil
}

// shown are the picture types XEP-0153 clients are expected to show.
var shown = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// cut bounds a peer's declared type for an error text.
func cut(s string) string {
	const n = 40
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// Card is a vcard-temp card (XEP-0054) with the fields the gateway fills:
// the display name twice (FN and NICKNAME, as clients read one or the
// other), a description and the picture.
type Card struct {
	XMLName  xml.Name `xml:"vcard-temp vCard"`
	FN       string   `xml:"FN,omitempty"`
	Nickname string   `xml:"NICKNAME,omitempty"`
	Desc     string   `xml:"DESC,omitempty"`
	Photo    *Photo   `xml:"PHOTO,omitempty"`
}

// Photo is a card's picture, inline.
type Photo struct {
	Type   string `xml:"TYPE"`
	BinVal string `xml:"BINVAL"`
}

// NewCard returns the card of a contact named name (may be empty) with
// the description about and picture p (nil for none).
func NewCard(name, about string, p *Picture) *Card {
	c := &Card{FN: name, Nickname: name, Desc: about}
	if p != nil && len(p.Data) > 0 {
		c.Photo = &Photo{Type: p.Type, BinVal: base64.StdEncoding.EncodeToString(p.Data)}
	}
	return c
}

// Update is the XEP-0153 element of a contact's presence: Photo is the
// picture's hash, "" for "no picture" (an empty <photo/>), and a nil
// *Update is "not known yet" (no element).
type Update struct {
	XMLName xml.Name `xml:"vcard-temp:x:update x"`
	Photo   string   `xml:"photo"`
}

// NewUpdate returns the presence element for picture p, nil for none.
func NewUpdate(p *Picture) *Update {
	if p == nil {
		return &Update{}
	}
	return &Update{Photo: p.Hash}
}

// IsRequest reports whether an IQ payload named name is a vCard request
// (<vCard xmlns='vcard-temp'/>), matched by namespace and local name.
func IsRequest(name xml.Name) bool { return name.Space == NS && name.Local == "vCard" }
