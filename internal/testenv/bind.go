package testenv

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

const nsBind = "urn:ietf:params:xml:ns:xmpp-bind"

var bindIDs atomic.Int64

// bindNamed binds the given resource. mellium's BindResource cannot ask
// for a particular resource (it sends the JID as the resource text), and
// tests need named resources to check routing by priority.
func bindNamed(resource string) xmpp.StreamFeature {
	return xmpp.StreamFeature{
		Name:       xml.Name{Space: nsBind, Local: "bind"},
		Necessary:  xmpp.Authn,
		Prohibited: xmpp.Ready,
		Parse: func(ctx context.Context, d *xml.Decoder, start *xml.StartElement) (bool, any, error) {
			return true, nil, d.Skip()
		},
		Negotiate: func(ctx context.Context, s *xmpp.Session, _ any) (xmpp.SessionState, io.ReadWriter, error) {
			id := "bind" + strconv.FormatInt(bindIDs.Add(1), 10)
			w := s.TokenWriter()
			iq := xml.StartElement{Name: xml.Name{Space: "jabber:client", Local: "iq"},
				Attr: []xml.Attr{{Name: xml.Name{Local: "id"}, Value: id}, {Name: xml.Name{Local: "type"}, Value: "set"}}}
			bind := xml.StartElement{Name: xml.Name{Space: nsBind, Local: "bind"}}
			res := xml.StartElement{Name: xml.Name{Local: "resource"}}
			var err error
			for _, tok := range []xml.Token{iq, bind, res, xml.CharData(resource), res.End(), bind.End(), iq.End()} {
				if err == nil {
					err = w.EncodeToken(tok)
				}
			}
			if err == nil {
				err = w.Flush()
			}
			w.Close()
			if err != nil {
				return 0, nil, err
			}
			r := s.TokenReader()
			defer r.Close()
			var resp struct {
				ID   string `xml:"id,attr"`
				Type string `xml:"type,attr"`
				Bind struct {
					JID string `xml:"jid"`
				} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
			}
			if err := xml.NewTokenDecoder(r).Decode(&resp); err != nil {
				return 0, nil, err
			}
			if resp.ID != id || resp.Type != "result" {
				return 0, nil, fmt.Errorf("binding resource %q refused", resource)
			}
			j, err := jid.Parse(resp.Bind.JID)
			if err != nil {
				return 0, nil, err
			}
			s.UpdateAddr(j)
			return xmpp.Ready, nil, nil
		},
	}
}
