package vcard

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/internal/xmltree"
)

// png1 is a 1×1 transparent PNG.
var png1, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

func TestReadPicture(t *testing.T) {
	big := append(append([]byte{}, png1...), make([]byte, 200)...)
	tests := []struct {
		name     string
		data     []byte
		typ      string
		max      int64
		wantErr  error
		wantType string
	}{
		{"png declared png", png1, "image/png", 0, nil, "image/png"},
		{"png declared wrong", png1, "text/html", 0, nil, "image/png"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "", 0, nil, "image/gif"},
		{"html is no image", []byte("<html><script>alert(1)</script>"), "image/png", 0, ErrNotImage, ""},
		{"empty", nil, "image/png", 0, ErrNotImage, ""},
		{"over bound", big, "image/png", int64(len(png1)), ErrTooLarge, ""},
		{"at bound", png1, "image/png", int64(len(png1)), nil, "image/png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ReadPicture(bytes.NewReader(tt.data), tt.typ, tt.max)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), "script") {
					t.Errorf("error quotes the content: %v", err)
				}
				return
			}
			if p.Type != tt.wantType {
				t.Errorf("type = %q, want %q", p.Type, tt.wantType)
			}
			if !bytes.Equal(p.Data, tt.data) {
				t.Error("data changed")
			}
		})
	}
}

// TestHash checks the XEP-0153 hash against SHA-1s computed elsewhere
// (sha1sum).
func TestHash(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"png", png1, "c7a9c45fd419815a5ab1998503a9f03514c0e229"},
		{"gif", []byte("GIF89aabc"), "5c8dbd53ebce0535ce8f076bdc6ed5f91677db6a"},
	}
	for _, tt := range tests {
		p, err := ReadPicture(bytes.NewReader(tt.data), "", 0)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if p.Hash != tt.want {
			t.Errorf("%s: hash %q, want %q", tt.name, p.Hash, tt.want)
		}
	}
}

// TestCardWire: the card and the update element, parsed back by
// namespace and name.
func TestCardWire(t *testing.T) {
	p, err := ReadPicture(bytes.NewReader(png1), "image/png", 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		card      *Card
		wantPhoto bool
	}{
		{"with picture", NewCard("Ana <3", "about & more", &p), true},
		{"without", NewCard("", "", nil), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := xml.Marshal(tt.card)
			if err != nil {
				t.Fatal(err)
			}
			el, err := xmltree.Parse(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if el.Name != (xml.Name{Space: NS, Local: "vCard"}) || !IsRequest(el.Name) {
				t.Fatalf("root %v", el.Name)
			}
			fn := el.Child(NS, "FN")
			if tt.card.FN != "" && (fn == nil || fn.Text != tt.card.FN) {
				t.Errorf("FN = %v, want %q", fn, tt.card.FN)
			}
			photo := el.Child(NS, "PHOTO")
			if (photo != nil) != tt.wantPhoto {
				t.Fatalf("PHOTO present = %v, want %v", photo != nil, tt.wantPhoto)
			}
			if photo != nil {
				got, err := base64.StdEncoding.DecodeString(photo.ChildText(NS, "BINVAL"))
				if err != nil || !bytes.Equal(got, png1) || photo.ChildText(NS, "TYPE") != "image/png" {
					t.Errorf("photo does not round-trip: %v", err)
				}
			}
		})
	}
	for _, tt := range []struct {
		p    *Picture
		want string
	}{{&p, p.Hash}, {nil, ""}} {
		b, _ := xml.Marshal(NewUpdate(tt.p))
		el, err := xmltree.Parse(string(b))
		if err != nil {
			t.Fatal(err)
		}
		ph := el.Child(NSUpdate, "photo")
		if el.Name != (xml.Name{Space: NSUpdate, Local: "x"}) || ph == nil || ph.Text != tt.want {
			t.Errorf("update %s, want photo %q", b, tt.want)
		}
	}
	if IsRequest(xml.Name{Space: "urn:other", Local: "vCard"}) {
		t.Error("a vCard of another namespace is taken for a request")
	}
}
