package discord

import (
	"errors"
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/bwmarrin/discordgo"
)

// Opening a gateway session with RESUME in a new process. discordgo
// v0.29.0 decides between IDENTIFY and RESUME in Session.Open from three
// unexported fields, which only its own READY handling and reads set:
//
//	sessionID string  // READY's session_id; non-empty: RESUME
//	sequence  *int64  // the last dispatch's s, read atomically
//	gateway   string  // the websocket address Open dials ("" asks GET /gateway)
//
// No exported path sets them: the alternatives were forking discordgo
// (ruled out: one more module to keep up to date), rewriting the IDENTIFY
// frame into a RESUME inside the websocket connection the Dialer returns
// (websocket framing and masking by hand), or opening the session first
// against a stand-in gateway on a net.Pipe that answers READY with the
// old session ID (a fake server in the product). Each depends on
// discordgo's Open just as much, and less visibly. Here the three fields
// are written through reflect and unsafe, in this file only; their names
// and types are checked before any write (a mismatch: no RESUME, the
// session IDENTIFYs as before), and TestSessionFields fails loudly when
// an upgrade of discordgo changes them.

// errSessionFields says discordgo's unexported fields are not the ones
// this file was written for.
var errSessionFields = errors.New("discord: discordgo's session fields changed; RESUME after a restart is off")

// sessionFields are the addresses of s's resume fields.
type sessionFields struct {
	sessionID *string
	sequence  **int64
	gateway   *string
}

func fieldsOf(s *discordgo.Session) (sessionFields, error) {
	v := reflect.ValueOf(s).Elem()
	id, seq, gw := v.FieldByName("sessionID"), v.FieldByName("sequence"), v.FieldByName("gateway")
	if !id.IsValid() || id.Type() != reflect.TypeFor[string]() ||
		!seq.IsValid() || seq.Type() != reflect.TypeFor[*int64]() ||
		!gw.IsValid() || gw.Type() != reflect.TypeFor[string]() {
		return sessionFields{}, errSessionFields
	}
	return sessionFields{
		sessionID: (*string)(unsafe.Pointer(id.UnsafeAddr())),
		sequence:  (**int64)(unsafe.Pointer(seq.UnsafeAddr())),
		gateway:   (*string)(unsafe.Pointer(gw.UnsafeAddr())),
	}, nil
}

// setResumable makes the next Open of s, a session that is not open,
// RESUME session id from sequence seq, dialling gateway (a full
// websocket address with its query, or "" for GET /gateway's). An empty
// id and a zero seq make it IDENTIFY again.
func setResumable(s *discordgo.Session, id string, seq int64, gateway string) error {
	f, err := fieldsOf(s)
	if err != nil {
		return err
	}
	if *f.sequence == nil {
		return errSessionFields // New always makes it
	}
	// Open, the only reader, runs after this on the caller's goroutine
	// and takes s's lock; the sequence is written atomically as
	// discordgo itself does.
	s.Lock()
	defer s.Unlock()
	*f.sessionID, *f.gateway = id, gateway
	atomic.StoreInt64(*f.sequence, seq)
	return nil
}
