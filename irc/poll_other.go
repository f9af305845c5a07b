//go:build !linux

package irc

import (
	"errors"
	"net"
)

// parkSupported: connections do not park on this system; each has a
// goroutine blocked in Read, as before (park.go).
const parkSupported = false

// parkers is empty where connections do not park.
type parkers struct{}

// parkState is empty where connections do not park.
type parkState struct{}

// parkable returns c: TLS sockets do not park here either.
func parkable(c net.Conn) net.Conn { return c }

// enablePark does nothing here: reads block.
func (*parkers) enablePark(*lineConn) error { return nil }

// arm is never called here: reads never find nothing (errWouldBlock).
func (*lineConn) arm() error { return errors.New("irc: connections do not park on this system") }

// blockReads is never called here: reads block.
func (*lineConn) blockReads() {}

// disarm does nothing here.
func (*lineConn) disarm() {}
