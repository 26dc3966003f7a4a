package sip

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/morozhq/moroz/sip/media"
)

func TestDialErrorKinds(t *testing.T) {
	tests := []struct {
		status int
		want   error
	}{
		{486, ErrDialBusy}, {600, ErrDialBusy}, {603, ErrDialDeclined},
		{480, ErrDialNoAnswer}, {408, ErrDialNoAnswer}, {487, ErrDialNoAnswer}, {404, ErrDialNoAnswer},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			err := dialError(&sip.Response{StatusCode: tt.status, Reason: "x"})
			if !errors.Is(err, tt.want) {
				t.Errorf("status %d: got %v, want %v", tt.status, err, tt.want)
			}
		})
	}
}

// Moroz's offer parses back with PCMU first and telephone-event.
func TestBuildOfferParses(t *testing.T) {
	local := netip.MustParseAddrPort("127.0.0.1:30002")
	body, err := buildOffer(local, 42, media.PCMU, media.PCMA)
	if err != nil {
		t.Fatal(err)
	}
	off, err := parseOffer(body)
	if err != nil {
		t.Fatalf("parse %s: %v", body, err)
	}
	if off.codec.Name != "PCMU" || off.dtmfPT != offerDTMFPT || off.remote != local || off.direction != dirSendRecv {
		t.Errorf("offer: got %s dtmf %d at %v %s, want PCMU dtmf %d at %v sendrecv",
			off.codec.Name, off.dtmfPT, off.remote, off.direction, offerDTMFPT, local)
	}
}

// Dialling a URI that is not sip: fails at once; ringing a port where
// nothing answers, not even 100 Trying, ends with the context (without a
// provisional response no CANCEL may be sent, and Timer B is not waited).
// An offer restricted to PCMA, for a leg bridged to a PCMA one, names
// PCMA and telephone-event only.
func TestBuildOfferOneCodec(t *testing.T) {
	body, err := buildOffer(netip.MustParseAddrPort("127.0.0.1:30002"), 42, media.PCMA)
	if err != nil {
		t.Fatal(err)
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		t.Fatal(err)
	}
	if got := sd.MediaDescriptions[0].MediaName.Formats; !slices.Equal(got, []string{"8", "101"}) {
		t.Errorf("formats: got %v, want [8 101]", got)
	}
}

func TestDialFailures(t *testing.T) {
	srv := testServer(t, func(context.Context, *Call) {})
	d, err := srv.NewDialer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Dial(context.Background(), "mailto:elf@example.org", DialOptions{}); err == nil {
		t.Error("dial mailto: got no error")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = d.Dial(ctx, "sip:elf@127.0.0.1:9", DialOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial a silent port: got %v, want the context's deadline", err)
	}
	if d.Close() != nil || d.Close() != nil {
		t.Error("close: want idempotent and clean")
	}
}
