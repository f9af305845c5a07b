package email

import "github.com/switchboard-im/switchboard/transports"

// Capabilities implements transports.Network. Mail is delivered while the
// user is offline, stored by their server, so sessions stay up by default;
// attachments come with messages, and files the user shares leave as
// attachments (files.go); "check-mail" looks for new mail at once.
func (n *Network) Capabilities() transports.Capabilities {
	return transports.Capabilities{
		StayConnected: true,
		Commands:      []transports.Command{{Node: "check-mail", Name: "Check mail now"}},
		Attachments:   true,
		SendFiles:     true,
	}
}
