package sip

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The RFC 4475 torture messages ship in sipgo's module (sip/testdata/torture);
// the tests read them from the module cache rather than keeping a copy.
func tortureDir(t *testing.T) string {
	t.Helper()
	dir, err := tortureDirQuiet()
	if err != nil {
		t.Fatalf("torture messages: %v", err)
	}
	return dir
}

func tortureDirQuiet() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/emiago/sipgo").Output()
	if err != nil {
		return "", fmt.Errorf("find sipgo's module folder: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "sip", "testdata", "torture")
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// noResponse marks messages that must get no answer (they are responses).
const noResponse = 0

// Expected statuses, with the RFC 4475 section. "Served" INVITEs reach the
// test handler, which refuses them with 486 to show they got through.
// The server runs its registrar: a well-formed REGISTER without
// credentials is challenged (401), as an unknown auth scheme must be.
var tortureCases = []struct {
	file    string
	section string
	want    int
	tcp     bool // send over TCP: the answer is too big for sipgo's UDP limit
}{
	{"valid/dblreq", "3.1.1.8 second request in the datagram ignored; REGISTER challenged", 401, false},
	{"valid/esc01", "3.1.1.3 escapes: INVITE served", 486, false},
	{"valid/esc02", "3.1.1.5 escaped method is an unknown method", 501, false},
	{"valid/escnull", "3.1.1.4 escaped nulls: REGISTER challenged", 401, false},
	{"valid/intmeth", "3.1.1.2 unknown method", 501, false},
	{"valid/longreq", "3.1.1.7 long values: INVITE served", 486, true},
	{"valid/lwsdisp", "3.1.1.6 LWS in display name", 200, false},
	{"valid/mpart01", "3.1.1.11 multipart MESSAGE: 405", 405, false},
	{"valid/noreason", "3.1.1.13 response: nothing sent back", noResponse, false},
	{"valid/semiuri", "3.1.1.9 semicolon in user part", 200, false},
	{"valid/transports", "3.1.1.10 unusual Via transports", 200, false},
	{"valid/unreason", "3.1.1.12 response: nothing sent back", noResponse, false},
	{"valid/wsinv", "3.1.1.1 short tortuous INVITE served", 486, false},

	{"invalid/badinv01", "3.1.2.1 extraneous header separators", 400, false},
	{"invalid/clerr", "3.1.2.2 Content-Length larger than message", 400, false},
	{"invalid/ncl", "3.1.2.3 negative Content-Length", 400, false},
	{"invalid/scalar02", "3.1.2.4 overlarge scalar fields", 400, false},
	{"invalid/scalarlg", "3.1.2.5 response with overlarge scalars: dropped", noResponse, false},
	{"invalid/quotbal", "3.1.2.6 unterminated quoted string", 400, false},
	{"invalid/ltgtruri", "3.1.2.7 <> around Request-URI", 400, false},
	{"invalid/lwsruri", "3.1.2.8 LWS in Request-URI", 400, false},
	{"invalid/lwsstart", "3.1.2.9 multiple SP in request line", 400, false},
	{"invalid/trws", "3.1.2.10 SP at end of request line", 400, false},
	{"invalid/escruri", "3.1.2.11 escaped headers in Request-URI", 400, false},
	{"invalid/baddate", "3.1.2.12 bad Date time zone: tolerated, served", 486, false},
	{"invalid/regbadct", "3.1.2.13 '?' outside <> in Contact", 400, false},
	{"invalid/badaspec", "3.1.2.14 spaces in addr-spec", 400, false},
	{"invalid/baddn", "3.1.2.15 non-token display name", 400, false},
	{"invalid/badvers", "3.1.2.16 unknown SIP version", 505, false},
	{"invalid/mismatch01", "3.1.2.17 CSeq method mismatch", 400, false},
	{"invalid/mismatch02", "3.1.2.18 unknown method, CSeq mismatch: 501 preferred", 501, false},
	{"invalid/bigcode", "3.1.2.19 overlarge response code: dropped", noResponse, false},
	{"invalid/badbranch", "3.3.1 branch is only the magic cookie: tolerated", 200, false},
	{"invalid/insuf", "3.4.1 missing required headers", 400, false},
	{"invalid/unkscm", "3.4.2 unknown Request-URI scheme", 416, false},
	{"invalid/novelsc", "3.4.3 atypical Request-URI scheme", 416, false},
	{"invalid/unksm2", "3.4.4 REGISTER To not a SIP URI", 400, false},
	{"invalid/bext01", "3.4.5 unknown Require", 420, false},
	{"invalid/invut", "3.4.6 unknown Content-Type", 415, false},
	{"invalid/regaut01", "3.4.7 unknown auth scheme: challenged", 401, false},
	{"invalid/multi01", "3.4.8 multiple single-valued headers", 400, false},
	{"invalid/mcl01", "3.4.9 multiple Content-Length", 400, false},
	{"invalid/bcast", "3.4.10 response with broadcast Via: dropped", noResponse, false},
	{"invalid/zeromf", "3.4.11 Max-Forwards 0 to the endpoint itself: served", 200, false},
	{"invalid/cparam01", "3.4.12 REGISTER with Contact parameter: challenged", 401, false},
	{"invalid/cparam02", "3.4.13 REGISTER with URL parameter: challenged", 401, false},
	{"invalid/regescrt", "3.4.14 REGISTER with escaped header: challenged", 401, false},
	{"invalid/sdp01", "3.4.15 Accept without SDP", 406, false},
	{"invalid/inv2543", "3.5.1 RFC 2543 INVITE: served", 486, false},
	{"invalid/test", "not in RFC 4475: no SIP version, no Via: dropped", noResponse, false},
}

func TestTortureMessagesOverUDP(t *testing.T) {
	dir := tortureDir(t)
	var total Stats
	for _, tc := range tortureCases {
		t.Run(tc.file, func(t *testing.T) {
			msg, err := os.ReadFile(filepath.Join(dir, tc.file+".dat"))
			if err != nil {
				t.Fatal(err)
			}
			// A server per message: several messages share a Via branch
			// and sent-by, and would match each other's transactions.
			srv := testServerWithHandler(t, Config{Registrar: RegistrarConfig{Credentials: passwords{"user": "pw"}}},
				func(ctx context.Context, c *Call) { c.Reject(486, "Busy Here") })
			defer func() {
				st := srv.Stats()
				total.Unparseable += st.Unparseable
				total.RawRejected += st.RawRejected
				total.Rejected += st.Rejected
			}()
			if tc.tcp {
				if got := tcpStatus(t, srv, msg); got != tc.want {
					t.Errorf("%s over tcp (RFC 4475 %s): got %d, want %d", tc.file, tc.section, got, tc.want)
				}
				return
			}
			conn := dialUDP(t, srv)
			if _, err := conn.Write(msg); err != nil {
				t.Fatal(err)
			}
			if tc.want == noResponse {
				conn.Write(probe("probe-" + filepath.Base(tc.file)))
			}
			got, callID := finalStatus(t, conn)
			if tc.want == noResponse {
				if callID != "probe-"+filepath.Base(tc.file) {
					t.Errorf("%s (RFC 4475 %s): got a %d for call %q, want no answer", tc.file, tc.section, got, callID)
				}
				return
			}
			if got != tc.want {
				t.Errorf("%s (RFC 4475 %s): got %d, want %d", tc.file, tc.section, got, tc.want)
			}
		})
	}
	if total.Unparseable == 0 || total.RawRejected == 0 || total.Rejected == 0 {
		t.Errorf("stats %+v: want unparseable, raw-rejected and rejected all counted", total)
	}
}

// tcpStatus sends msg over TCP and returns the first final status.
func tcpStatus(t *testing.T, srv *Server, msg []byte) int {
	t.Helper()
	conn, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no final response over tcp: %v", err)
		}
		if strings.HasPrefix(line, "SIP/2.0 ") {
			if code, _ := statusOf([]byte(line)); code >= 200 {
				return code
			}
		}
	}
}

func dialUDP(t *testing.T, srv *Server) *net.UDPConn {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv.UDPAddr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func probe(callID string) []byte {
	return []byte("OPTIONS sip:ded@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK" + callID + "\r\n" +
		"From: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:ded@127.0.0.1>\r\n" +
		"Call-ID: " + callID + "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
}

// finalStatus reads responses until a final one and returns its status
// and Call-ID. The read deadline only keeps a broken server from hanging
// the test.
func finalStatus(t *testing.T, conn *net.UDPConn) (int, string) {
	t.Helper()
	buf := make([]byte, 65535)
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no final response: %v", err)
		}
		code, callID := statusOf(buf[:n])
		if code >= 200 {
			return code, callID
		}
	}
}

func statusOf(res []byte) (int, string) {
	line, rest, _ := bytes.Cut(res, []byte("\r\n"))
	parts := strings.SplitN(string(line), " ", 3)
	if len(parts) < 2 {
		return 0, ""
	}
	code, _ := strconv.Atoi(parts[1])
	var callID string
	for _, h := range strings.Split(string(rest), "\r\n") {
		name, v, ok := strings.Cut(h, ":")
		if ok && (strings.EqualFold(strings.TrimSpace(name), "call-id") || strings.EqualFold(strings.TrimSpace(name), "i")) {
			callID = strings.TrimSpace(v)
			break
		}
	}
	return code, callID
}
