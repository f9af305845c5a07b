package twiliotest

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Twilio's Media Content Service, where files of group texts are kept
// (served at Server.URL, the media_url), as its Media resource documents:
//
//	GET /v1/Services/{IS…}/Media/{ME…}  (basic auth)
//	    → 200 {"sid", "account_sid", "service_sid", "size", "content_type", "filename",
//	           "links": {"content", "content_direct_temporary"}}
//	GET the content_direct_temporary URL (no auth: a signed, expiring URL)
//	    → 200 the file; 403 once expired or with another signature
//
// A file of another account or service, or none, is 404 (code 20404).

// GroupFile is a file a member sends to a group.
type GroupFile struct {
	Name, Type string
	Data       []byte
}

type mediaFile struct {
	account, service string
	file             GroupFile
	signature        string
}

// mediaState is the fake's kept files, guarded by its own mutex.
type mediaState struct {
	mu      sync.Mutex
	files   map[string]*mediaFile // by ME… SID
	fetches int
}

func (s *Server) mediaRoutes(mux *http.ServeMux) {
	s.mcs.files = map[string]*mediaFile{}
	mux.HandleFunc("GET /v1/Services/{is}/Media/{me}", s.mediaResource)
	mux.HandleFunc("GET /mcs-direct/{me}", s.mediaContent)
}

// keepMedia keeps files in c's service and returns the Media field of
// their onMessageAdded.
func (s *Server) keepMedia(c conversation, files []GroupFile) string {
	var list []map[string]any
	s.mcs.mu.Lock()
	defer s.mcs.mu.Unlock()
	for _, f := range files {
		sid := "ME" + randomHex(16)
		s.mcs.files[sid] = &mediaFile{account: c.account, service: c.service, file: f, signature: randomHex(16)}
		list = append(list, map[string]any{"Sid": sid, "ContentType": f.Type, "Filename": f.Name, "Size": len(f.Data)})
	}
	data, _ := json.Marshal(list)
	return string(data)
}

// MediaFetches is how many files were read from their temporary URLs.
func (s *Server) MediaFetches() int {
	s.mcs.mu.Lock()
	defer s.mcs.mu.Unlock()
	return s.mcs.fetches
}

func (s *Server) mediaResource(w http.ResponseWriter, r *http.Request) {
	user, _, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	sid, service := r.PathValue("me"), r.PathValue("is")
	s.mcs.mu.Lock()
	f, ok := s.mcs.files[sid]
	s.mcs.mu.Unlock()
	if !ok || f.account != user || f.service != service {
		writeError(w, http.StatusNotFound, 20404, "The requested resource /Media/"+sid+" was not found")
		return
	}
	base := "/v1/Services/" + service + "/Media/" + sid
	direct := s.URL + "/mcs-direct/" + sid + "?Expires=" + time.Now().Add(5*time.Minute).UTC().Format("20060102T150405Z") + "&Signature=" + f.signature
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"sid": sid, "account_sid": f.account, "service_sid": service,
		"size": len(f.file.Data), "content_type": f.file.Type, "filename": f.file.Name,
		"date_created": time.Now().UTC().Format(time.RFC3339), "url": s.URL + base,
		"links": map[string]any{"content": base + "/Content", "content_direct_temporary": direct}})
}

func (s *Server) mediaContent(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := r.BasicAuth(); ok {
		// The signed URL takes no credentials; a client sending them
		// would leak them to the CDN.
		http.Error(w, "credentials sent to the CDN", http.StatusBadRequest)
		return
	}
	s.mcs.mu.Lock()
	f, ok := s.mcs.files[r.PathValue("me")]
	if ok && f.signature == r.URL.Query().Get("Signature") {
		s.mcs.fetches++
	}
	s.mcs.mu.Unlock()
	if !ok || f.signature != r.URL.Query().Get("Signature") {
		http.Error(w, "AccessDenied", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", f.file.Type)
	w.Write(f.file.Data)
}
