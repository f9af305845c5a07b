package discovery

import (
	"slices"
	"testing"

	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
)

// prosodyUpload is Prosody 0.12's http_file_share answer to disco#info.
const prosodyUpload = `<query xmlns="http://jabber.org/protocol/disco#info">` +
	`<identity category="store" name="HTTP File Upload" type="file"/>` +
	`<feature var="http://jabber.org/protocol/disco#info"/><feature var="urn:xmpp:http:upload:0"/>` +
	`<x xmlns="jabber:x:data" type="result"><field type="hidden" var="FORM_TYPE"><value>urn:xmpp:http:upload:0</value></field>` +
	`<field type="text-single" var="max-file-size"><value>10485760</value></field></x></query>`

// TestItemJIDs: items are disco#items <item/> elements with a jid.
func TestItemJIDs(t *testing.T) {
	tests := []struct {
		name, q string
		want    []string
	}{
		{"items", `<query xmlns="http://jabber.org/protocol/disco#items"><item jid="upload.localhost"/><item jid="muc.localhost" name="Rooms"/></query>`,
			[]string{"upload.localhost", "muc.localhost"}},
		{"empty", `<query xmlns="http://jabber.org/protocol/disco#items"/>`, nil},
		{"an item without a jid is skipped", `<query xmlns="http://jabber.org/protocol/disco#items"><item node="x"/><item jid="a.example"/></query>`,
			[]string{"a.example"}},
		{"an item in another namespace is not an item", `<query xmlns="http://jabber.org/protocol/disco#items"><item xmlns="urn:other" jid="evil.example"/><item jid="a.example"/></query>`,
			[]string{"a.example"}},
		{"not a disco#items answer", `<query xmlns="http://jabber.org/protocol/disco#info"><item jid="a.example"/></query>`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ItemJIDs(xmltreetest.Parse(t, tt.q)); !slices.Equal(got, tt.want) {
				t.Errorf("ItemJIDs = %q, want %q", got, tt.want)
			}
		})
	}
	if got := ItemJIDs(nil); got != nil {
		t.Errorf("ItemJIDs(nil) = %q", got)
	}
}

// TestHasFeatureAndFormValue: features and XEP-0128 form fields are found
// by namespace, and a field counts only in the form of the asked type.
func TestHasFeatureAndFormValue(t *testing.T) {
	const up = "urn:xmpp:http:upload:0"
	form := func(typ, fields string) string {
		return `<x xmlns="jabber:x:data" type="result"><field type="hidden" var="FORM_TYPE"><value>` + typ + `</value></field>` + fields + `</x>`
	}
	query := func(inner string) string {
		return `<query xmlns="http://jabber.org/protocol/disco#info">` + inner + `</query>`
	}
	size := `<field var="max-file-size"><value>42</value></field>`
	tests := []struct {
		name    string
		q       string
		feature bool
		value   string
		found   bool
	}{
		{"Prosody's upload service", prosodyUpload, true, "10485760", true},
		{"feature, no form", query(`<feature var="` + up + `"/>`), true, "", false},
		{"no feature", query(`<feature var="urn:other"/>`), false, "", false},
		{"a feature in another namespace", query(`<feature xmlns="urn:other" var="` + up + `"/>`), false, "", false},
		{"the field in a form of another type", query(form("urn:other", size)), false, "", false},
		{"the field in a form without a type", query(`<x xmlns="jabber:x:data" type="result">` + size + `</x>`), false, "", false},
		{"the second form is the upload one", query(form("urn:other", `<field var="max-file-size"><value>1</value></field>`) + form(up, size)),
			false, "42", true},
		{"a form in another namespace", query(`<x xmlns="urn:other"><field var="FORM_TYPE"><value>` + up + `</value></field>` + size + `</x>`), false, "", false},
		{"a field without a value", query(form(up, `<field var="max-file-size"/>`)), false, "", false},
		{"first of several values", query(form(up, `<field var="max-file-size"><value>7</value><value>8</value></field>`)), false, "7", true},
		{"not a disco#info answer", `<query xmlns="http://jabber.org/protocol/disco#items"><feature var="` + up + `"/>` + form(up, size) + `</query>`,
			false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := xmltreetest.Parse(t, tt.q)
			if got := HasFeature(q, up); got != tt.feature {
				t.Errorf("HasFeature = %v, want %v", got, tt.feature)
			}
			v, ok := FormValue(q, up, "max-file-size")
			if v != tt.value || ok != tt.found {
				t.Errorf("FormValue = %q, %v; want %q, %v", v, ok, tt.value, tt.found)
			}
		})
	}
	if HasFeature(nil, up) {
		t.Error("HasFeature(nil) is true")
	}
	if _, ok := FormValue(nil, up, "max-file-size"); ok {
		t.Error("FormValue(nil) found a value")
	}
}
