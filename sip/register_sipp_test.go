package sip

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"testing"
	"time"
)

func registrarServer(t *testing.T) *Server {
	t.Helper()
	return testServerWith(t, Config{Registrar: RegistrarConfig{
		Credentials: passwords{"101": "snowflake"}, MaxFailures: 3, BanFor: time.Hour}})
}

// sippRegister runs register.xml once as user 101 with password and
// reports whether SIPp saw the registration succeed.
func sippRegister(t *testing.T, srv *Server, password string, port int) bool {
	t.Helper()
	sipp := needPeer(t, "sipp")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, "-sf", scenario(t, "register.xml"), "-s", "101",
		"-au", "101", "-ap", password, "-m", "1", "-i", "127.0.0.1", "-p", fmt.Sprint(port),
		"-timeout", "20s", "-timeout_error", "-nostdin", srv.UDPAddr().String())
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("run sipp: %v\n%s", err, tail(out, 2000))
		}
		return false
	}
	return true
}

func TestSippRegistersWithDigest(t *testing.T) {
	srv := registrarServer(t)
	port := freeUDPPort(t)
	if !sippRegister(t, srv, "snowflake", port) {
		t.Fatal("sipp could not register with the right password")
	}
	b := srv.Locations("101")
	if len(b) != 1 || b[0].Contact != fmt.Sprintf("sip:101@127.0.0.1:%d", port) {
		t.Errorf("locations: got %+v, want sipp's contact on port %d", b, port)
	}
}

func TestSippBruteForceIsBanned(t *testing.T) {
	srv := registrarServer(t)
	port := freeUDPPort(t)
	for i := range 4 {
		if sippRegister(t, srv, fmt.Sprintf("guess%d", i), port) {
			t.Fatalf("guess %d registered", i)
		}
	}
	if got := srv.Stats().AuthFailed; got < 3 {
		t.Errorf("auth failures counted: got %d, want at least 3", got)
	}
	if sippRegister(t, srv, "snowflake", port) {
		t.Error("the right password registered from a banned address")
	}
	if b := srv.Locations("101"); len(b) != 0 {
		t.Errorf("locations after the brute force: got %+v, want none", b)
	}
}
