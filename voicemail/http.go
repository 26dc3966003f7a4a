package voicemail

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
)

// MaxGreetingBytes bounds an uploaded greeting: ten minutes of 8 kHz
// 16-bit audio.
const MaxGreetingBytes = 10 << 20

// Authenticate returns the role of a request's caller, or an error when
// it carries no valid credentials.
type Authenticate func(r *http.Request) (store.Role, error)

// errUnauthenticated is what StoreAuth returns for missing or bad credentials.
var errUnauthenticated = errors.New("unauthenticated")

// StoreAuth checks a bearer token ("Authorization: Bearer mz_...") or the
// console's session cookie against the store, as the console does; now
// is the clock of session expiry (nil means time.Now).
func StoreAuth(users store.Users, now func() time.Time) Authenticate {
	if now == nil {
		now = time.Now
	}
	return func(r *http.Request) (store.Role, error) {
		ctx := r.Context()
		if h := r.Header.Get("Authorization"); h != "" {
			secret, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || !strings.HasPrefix(secret, console.TokenPrefix) {
				return "", errUnauthenticated
			}
			t, err := users.TokenByHash(ctx, digest(secret))
			if err != nil {
				return "", errUnauthenticated
			}
			return t.Role, nil
		}
		c, err := r.Cookie(console.CookieName)
		if err != nil || c.Value == "" {
			return "", errUnauthenticated
		}
		sess, err := users.SessionByHash(ctx, digest(c.Value), now())
		if err != nil {
			return "", errUnauthenticated
		}
		u, err := users.User(ctx, sess.UserID)
		if err != nil || u.Disabled {
			return "", errUnauthenticated
		}
		return u.Role, nil
	}
}

func digest(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// Mounts returns the HTTP handlers to serve on the console's listener
// (console.Options.Mounts), by ServeMux pattern:
//
//	GET /api/v1/voicemails/{id}/audio               a message (helpers)
//	GET /api/v1/greetings/{queue}/{lang}/{name}     an uploaded greeting (helpers)
//	PUT /api/v1/greetings/{queue}/{lang}/{name}     upload a WAV greeting (supervisors)
//
// Greetings are written to promptsDir/<queue>/<lang>/<name>.wav; the queue
// "all" writes promptsDir/<lang>/<name>.wav, for every queue. An upload
// must be mono 8 kHz 16-bit PCM WAV.
func (r *Recorder) Mounts(auth Authenticate, promptsDir string) map[string]http.Handler {
	g := greetings{dir: promptsDir}
	return map[string]http.Handler{
		"GET /api/v1/voicemails/{id}/audio":           r.require(auth, store.RoleHelper, http.HandlerFunc(r.serveAudio)),
		"GET /api/v1/greetings/{queue}/{lang}/{name}": r.require(auth, store.RoleHelper, http.HandlerFunc(g.serve)),
		"PUT /api/v1/greetings/{queue}/{lang}/{name}": r.require(auth, store.RoleSupervisor, http.HandlerFunc(g.upload)),
	}
}

func (r *Recorder) require(auth Authenticate, min store.Role, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		role, err := auth(req)
		if err != nil {
			writeError(w, http.StatusUnauthorized, "authentication required")
			return
		}
		if !role.AtLeast(min) {
			writeError(w, http.StatusForbidden, "role "+string(min)+" required")
			return
		}
		h.ServeHTTP(w, req)
	})
}

// serveAudio sends a voicemail's WAV, with Range support.
func (r *Recorder) serveAudio(w http.ResponseWriter, req *http.Request) {
	id, err := strconv.ParseInt(req.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "voicemail id must be a positive integer")
		return
	}
	vm, err := r.opt.Store.Voicemail(req.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such voicemail")
		return
	}
	if err != nil {
		r.opt.Logger.Error("voicemail audio: read row", "voicemail", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	serveWAV(w, req, filepath.Join(r.opt.Dir, filepath.FromSlash(vm.Path)))
}

func serveWAV(w http.ResponseWriter, req *http.Request, path string) {
	f, err := os.Open(path)
	if err != nil {
		writeError(w, http.StatusNotFound, "audio file missing")
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		writeError(w, http.StatusNotFound, "audio file missing")
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	http.ServeContent(w, req, filepath.Base(path), fi.ModTime(), f)
}

// greetings serves and stores uploaded prompts.
type greetings struct {
	dir string
}

// segment is what a queue, language or prompt name may be.
var segment = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func (g greetings) path(req *http.Request) (string, error) {
	q, lang, name := req.PathValue("queue"), req.PathValue("lang"), req.PathValue("name")
	for _, s := range []string{q, lang, name} {
		if !segment.MatchString(s) {
			return "", fmt.Errorf("%q: want lower-case letters, digits, '-' or '_'", s)
		}
	}
	if q == "all" {
		return filepath.Join(g.dir, lang, name+".wav"), nil
	}
	return filepath.Join(g.dir, q, lang, name+".wav"), nil
}

func (g greetings) serve(w http.ResponseWriter, req *http.Request) {
	p, err := g.path(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	serveWAV(w, req, p)
}

// upload checks the WAV in a temporary file and renames it into place.
func (g greetings) upload(w http.ResponseWriter, req *http.Request) {
	p, err := g.path(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		writeError(w, http.StatusInternalServerError, "cannot create the prompts folder")
		return
	}
	body := http.MaxBytesReader(w, req.Body, MaxGreetingBytes)
	n, err := writeChecked(p, body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("greeting larger than %d bytes", MaxGreetingBytes))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"bytes": n})
}

// writeChecked copies body to a temporary file beside path, checks that it
// is a WAV the media layer plays, syncs it and renames it to path.
func writeChecked(path string, body io.Reader) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".upload-*.wav")
	if err != nil {
		return 0, fmt.Errorf("store greeting: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing to remove
	n, err := io.Copy(tmp, body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if _, err := media.LoadWAV(tmp.Name()); err != nil {
		// The error names the temporary file; the uploader needs only why.
		return n, errors.New("greeting: " + strings.TrimPrefix(err.Error(), "load wav "+tmp.Name()+": "))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return n, fmt.Errorf("store greeting: %w", err)
	}
	return n, nil
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
