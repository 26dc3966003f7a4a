package voicemail_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voicemail"
	"github.com/morozhq/moroz/work"
)

type env struct {
	dir  string
	st   store.Store
	work *work.Service
	rec  *voicemail.Recorder
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dir: t.TempDir()}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	log := slog.New(slog.DiscardHandler)
	if e.work, err = work.New(ctx, work.Options{Store: st, Logger: log}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.work.Close() })
	if e.rec, err = voicemail.New(voicemail.Options{Store: st, Work: e.work, Dir: e.dir,
		Min: time.Second, Max: 5 * time.Second, Logger: log}); err != nil {
		t.Fatal(err)
	}
	return e
}

// speaker is a Recording that says samples, as a caller would.
type speaker struct {
	samples []int16
	gotMax  time.Duration
}

func (s *speaker) Record(ctx context.Context, path string, max time.Duration) (media.RecordInfo, error) {
	s.gotMax = max
	if err := media.WriteWAV(path, s.samples); err != nil {
		return media.RecordInfo{}, err
	}
	return media.RecordInfo{Path: path, Duration: time.Duration(len(s.samples)) * time.Second / media.SampleRate}, nil
}

func tone(d time.Duration) []int16 {
	s := make([]int16, int(d*media.SampleRate/time.Second))
	for i := range s {
		s[i] = int16(6000 * math.Sin(2*math.Pi*500*float64(i)/media.SampleRate))
	}
	return s
}

func TestLeaveStoresFileItemAndRow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sp := &speaker{samples: tone(2 * time.Second)}
	vm, err := e.rec.Leave(ctx, sp, voicemail.Message{CallID: "abc@host/../x", From: "+79990001122", Subject: "+79990001122"})
	if err != nil {
		t.Fatal(err)
	}
	if sp.gotMax != 5*time.Second {
		t.Errorf("max length asked of the recording: got %v, want 5s", sp.gotMax)
	}
	if strings.Contains(filepath.Base(vm.Path), "/") || !strings.HasPrefix(vm.Path, "voicemail/") {
		t.Errorf("path: got %q, want a file under voicemail/", vm.Path)
	}
	clip, err := media.LoadWAV(filepath.Join(e.dir, filepath.FromSlash(vm.Path)))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(clip.Samples()); got != 2*media.SampleRate {
		t.Errorf("stored samples: got %d, want %d", got, 2*media.SampleRate)
	}
	if vm.Duration != 2*time.Second || vm.From != "+79990001122" {
		t.Errorf("row: got duration %v from %q, want 2s from +79990001122", vm.Duration, vm.From)
	}
	it, err := e.st.Item(ctx, vm.ItemID)
	if err != nil {
		t.Fatal(err)
	}
	if it.Channel != acd.Voicemail || it.ExternalID != "abc@host/../x" || it.Queue != work.QueueCallbacks {
		t.Errorf("item: got %s %q in %q, want a voicemail item for the call in %q", it.Channel, it.ExternalID, it.Queue, work.QueueCallbacks)
	}
}

func TestLeaveTooShortIsDiscarded(t *testing.T) {
	e := newEnv(t)
	_, err := e.rec.Leave(context.Background(), &speaker{samples: tone(400 * time.Millisecond)}, voicemail.Message{CallID: "short"})
	if !errors.Is(err, voicemail.ErrTooShort) {
		t.Fatalf("leave: got %v, want ErrTooShort", err)
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "voicemail", "*", "*", "*", "*"))
	if len(files) != 0 {
		t.Errorf("files left: got %v, want none", files)
	}
	vms, _ := e.st.ListVoicemails(context.Background(), 0)
	if len(vms) != 0 {
		t.Errorf("rows: got %d, want none", len(vms))
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		opt  voicemail.Options
	}{
		{name: "no store", opt: voicemail.Options{Work: e.work, Dir: e.dir}},
		{name: "no dir", opt: voicemail.Options{Store: e.st, Work: e.work}},
		{name: "max below min", opt: voicemail.Options{Store: e.st, Work: e.work, Dir: e.dir, Min: time.Minute, Max: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := voicemail.New(tt.opt); err == nil {
				t.Error("new: got no error")
			}
		})
	}
}

// wavBytes is a valid greeting file.
func wavBytes(t *testing.T, d time.Duration) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "g.wav")
	if err := media.WriteWAV(p, tone(d)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHTTP(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	vm, err := e.rec.Leave(ctx, &speaker{samples: tone(2 * time.Second)}, voicemail.Message{CallID: "http-1"})
	if err != nil {
		t.Fatal(err)
	}
	helperTok, err := console.CreateToken(ctx, e.st, store.RoleHelper, "elf")
	if err != nil {
		t.Fatal(err)
	}
	superTok, err := console.CreateToken(ctx, e.st, store.RoleSupervisor, "boss")
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.st.CreateUser(ctx, store.User{Login: "mrs", Name: "Mrs Claus", Role: store.RoleHelper})
	if err != nil {
		t.Fatal(err)
	}
	const cookie = "session-secret"
	sum := sha256.Sum256([]byte(cookie))
	if err := e.st.CreateSession(ctx, store.Session{Hash: sum[:], UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	prompts := filepath.Join(e.dir, "prompts")
	mux := http.NewServeMux()
	for p, h := range e.rec.Mounts(voicemail.StoreAuth(e.st, nil), prompts) {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	good := wavBytes(t, time.Second)
	audio := "/api/v1/voicemails/" + itoa(vm.ID) + "/audio"

	tests := []struct {
		name, method, path, token, rng, cookie string
		body                                   []byte
		want                                   int
		wantLen                                int // checked when > 0
	}{
		{name: "no credentials", method: "GET", path: audio, want: 401},
		{name: "bad token", method: "GET", path: audio, token: "mz_nope", want: 401},
		{name: "audio", method: "GET", path: audio, token: helperTok, want: 200, wantLen: 44 + 2*2*media.SampleRate},
		{name: "session cookie", method: "GET", path: audio, cookie: cookie, want: 200},
		{name: "stale cookie", method: "GET", path: audio, cookie: "other", want: 401},
		{name: "audio range", method: "GET", path: audio, token: helperTok, rng: "bytes=0-99", want: 206, wantLen: 100},
		{name: "unknown voicemail", method: "GET", path: "/api/v1/voicemails/999/audio", token: helperTok, want: 404},
		{name: "bad id", method: "GET", path: "/api/v1/voicemails/x/audio", token: helperTok, want: 400},
		{name: "upload by a helper", method: "PUT", path: "/api/v1/greetings/calls/ru/greeting", token: helperTok, body: good, want: 403},
		{name: "upload", method: "PUT", path: "/api/v1/greetings/calls/ru/greeting", token: superTok, body: good, want: 201},
		{name: "upload for all queues", method: "PUT", path: "/api/v1/greetings/all/en/greeting", token: superTok, body: good, want: 201},
		{name: "upload not a wav", method: "PUT", path: "/api/v1/greetings/calls/ru/menu", token: superTok, body: []byte("hello"), want: 400},
		{name: "upload bad name", method: "PUT", path: "/api/v1/greetings/calls/RU/menu", token: superTok, body: good, want: 400},
		{name: "uploaded greeting", method: "GET", path: "/api/v1/greetings/calls/ru/greeting", token: helperTok, want: 200, wantLen: len(good)},
		{name: "missing greeting", method: "GET", path: "/api/v1/greetings/calls/ru/menu", token: helperTok, want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: console.CookieName, Value: tt.cookie})
			}
			if tt.rng != "" {
				req.Header.Set("Range", tt.rng)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.want {
				t.Fatalf("status: got %d (%s), want %d", res.StatusCode, body, tt.want)
			}
			if tt.wantLen > 0 && len(body) != tt.wantLen {
				t.Errorf("body: got %d bytes, want %d", len(body), tt.wantLen)
			}
		})
	}
	if _, err := media.LoadWAV(filepath.Join(prompts, "en", "greeting.wav")); err != nil {
		t.Errorf("greeting for all queues: %v", err)
	}
	if _, err := os.Stat(filepath.Join(prompts, "calls", "ru", "menu.wav")); !os.IsNotExist(err) {
		t.Errorf("refused upload left a file: stat err %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
