package softphone

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeSignal is a helper with one console open that keeps what it got.
type fakeSignal struct {
	mu   sync.Mutex
	sent []eventMsg // guarded by mu
	rang chan struct{}
}

func (f *fakeSignal) SendSoftphone(_ int64, msg any) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, msg.(eventMsg))
	select {
	case f.rang <- struct{}{}:
	default:
	}
	return 1
}

func (f *fakeSignal) Connected(int64) bool { return true }

type fakeCaller string

func (c fakeCaller) ID() string     { return string(c) }
func (c fakeCaller) Caller() string { return "+375290000001" }

// Every request a browser can get wrong gets a code, not a panic or a
// server error, and leaves the ringing call as it was.
func TestSignalRefusesBadRequests(t *testing.T) {
	sig := &fakeSignal{rang: make(chan struct{}, 1)}
	p, err := New(Options{Signal: sig})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	dialled := make(chan error, 1)
	go func() { _, err := p.Dial(ctx, Target(7), fakeCaller("c1")); dialled <- err }()
	defer func() { cancel(); <-dialled }()
	<-sig.rang // the browser is ringing

	tests := []struct {
		name   string
		helper int64
		raw    string
		code   string
	}{
		{name: "malformed", helper: 7, raw: `{"op":`, code: codeBadRequest},
		{name: "unknown op", helper: 7, raw: `{"op":"dance","call":"c1"}`, code: codeBadRequest},
		{name: "no such call", helper: 7, raw: `{"op":"hangup","call":"c2"}`, code: codeNotFound},
		{name: "another helper's call", helper: 8, raw: `{"op":"hangup","call":"c1"}`, code: codeNotFound},
		{name: "offer that is not SDP", helper: 7, raw: `{"op":"answer","call":"c1","sdp":"hello"}`, code: codeBadRequest},
		{name: "offer without G.711", helper: 7, raw: `{"op":"answer","call":"c1","sdp":"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"}`, code: codeBadRequest},
		{name: "hold before answering", helper: 7, raw: `{"op":"hold","call":"c1","on":true}`, code: codeWrongState},
		{name: "transfer before answering", helper: 7, raw: `{"op":"transfer","call":"c1","queue":"calls"}`, code: codeWrongState},
		{name: "transfer nowhere", helper: 7, raw: `{"op":"transfer","call":"c1"}`, code: codeBadRequest},
		{name: "candidate before answering", helper: 7, raw: `{"op":"candidate","call":"c1","candidate":{"candidate":"x"}}`, code: codeWrongState},
		{name: "candidate missing", helper: 7, raw: `{"op":"candidate","call":"c1"}`, code: codeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Signal(context.Background(), tt.helper, json.RawMessage(tt.raw))
			var se *signalError
			if !errors.As(err, &se) {
				t.Fatalf("Signal: got %v, want a %s error", err, tt.code)
			}
			if se.SignalCode() != tt.code {
				t.Errorf("code: got %q, want %q (%v)", se.SignalCode(), tt.code, err)
			}
		})
	}

	res, err := p.Signal(context.Background(), 7, json.RawMessage(`{"op":"list"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"calls": []callInfo{{Call: "c1", From: "+375290000001", State: "ringing"}}}
	if diff := cmp.Diff(res, want); diff != "" {
		t.Errorf("the call after bad requests (-got +want):\n%s", diff)
	}
}
