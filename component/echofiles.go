package component

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// The user's own files, echoed. A file the user shares in a room (or with
// a contact) is already on their server's upload service; when the
// network echoes the message back with its own copy of the files
// (MessageEvent.Own, EchoOf = the Message.ID sent), the echo shows the
// links the user sent instead of the network's copy being downloaded and
// uploaded to the user's service a second time. What was sent is kept in
// memory only, for sentFilesTTL and at most maxSentFiles messages: the
// echo comes within seconds, and one that comes after a restart or later
// is uploaded as any legacy file is (slower, never wrong).

// sentFilesTTL is how long the files of a sent message wait for its echo;
// maxSentFiles bounds the messages waiting, all users together.
const (
	sentFilesTTL = 10 * time.Minute
	maxSentFiles = 4096
)

// sentFiles is what the user's messages with files carried, by user,
// conversation and Message.ID, until their echo. Any goroutine; the zero
// value is ready.
type sentFiles struct {
	mu sync.Mutex
	m  map[sentKey]sentEntry
}

type sentKey struct {
	user, conv, id string
}

type sentEntry struct {
	at    time.Time
	files []transports.File // Open dropped: only the links are reused
}

// put remembers the files of message id sent by user to conv, at now.
// Expired entries go first; when full, the oldest one does.
func (s *sentFiles) put(user string, conv transports.ID, id string, files []transports.File, now time.Time) {
	if id == "" || len(files) == 0 {
		return
	}
	kept := make([]transports.File, len(files))
	for i, f := range files {
		kept[i] = transports.File{URL: f.URL, Name: f.Name, Type: f.Type, Size: f.Size}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[sentKey]sentEntry)
	}
	var oldest sentKey
	for k, e := range s.m {
		if now.Sub(e.at) >= sentFilesTTL {
			delete(s.m, k)
		} else if oldest == (sentKey{}) || e.at.Before(s.m[oldest].at) {
			oldest = k
		}
	}
	if len(s.m) >= maxSentFiles {
		delete(s.m, oldest)
	}
	s.m[sentKey{user, string(conv), id}] = sentEntry{at: now, files: kept}
}

// take returns and forgets the files of message id sent by user to conv,
// nil when none are known (or they expired).
func (s *sentFiles) take(user string, conv transports.ID, id string, now time.Time) []transports.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sentKey{user, string(conv), id}
	e, ok := s.m[k]
	if !ok {
		return nil
	}
	delete(s.m, k)
	if now.Sub(e.at) >= sentFilesTTL {
		return nil
	}
	return e.files
}

// reuseSent pairs the attachments of an echo with the files the user
// sent: in order when there are as many, else by name (each sent file
// once). It returns the paired attachments with the sent file's URL (the
// user's upload service) and without Open, as uploaded attachments are,
// and the attachments left to upload.
func reuseSent(sent []transports.File, atts []transports.Attachment) (reused, rest []transports.Attachment) {
	used := make([]bool, len(sent))
	for i, a := range atts {
		j := -1
		if len(sent) == len(atts) {
			j = i
		} else {
			j = slices.IndexFunc(sent, func(f transports.File) bool { return f.Name == a.Name })
			for j >= 0 && used[j] {
				k := slices.IndexFunc(sent[j+1:], func(f transports.File) bool { return f.Name == a.Name })
				if k < 0 {
					j = -1
				} else {
					j += 1 + k
				}
			}
		}
		if j < 0 || sent[j].URL == "" {
			rest = append(rest, a)
			continue
		}
		used[j] = true
		f := sent[j]
		reused = append(reused, transports.Attachment{Name: cmp.Or(a.Name, f.Name), Type: cmp.Or(a.Type, f.Type), Size: cmp.Or(a.Size, f.Size), URL: f.URL})
	}
	return reused, rest
}
