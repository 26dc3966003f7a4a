package main

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// scenario is SIPp's script for one side of a bridged call.
//
//go:embed caller.xml
var scenario []byte

// sippRun is a running SIPp; exited is closed once it has ended.
type sippRun struct {
	cmd    *exec.Cmd
	dir    string
	exited chan struct{}
}

// stop ends SIPp (its calls would outlive the run) and removes its files.
func (s *sippRun) stop() {
	s.cmd.Process.Kill()
	<-s.exited
	os.RemoveAll(s.dir)
}

// connectEdge has SIPp call the edge twice per bridged call and points
// each end at the leg the edge answered that side with. SIPp stays on
// the calls for hold; the caller stops it when done. Should SIPp end
// before every call is up, the edge process is killed so this returns.
func (c *child) connectEdge(calls [][2]*end, hold time.Duration) (*sippRun, error) {
	fmt.Fprintln(c.in, "calls", len(calls))
	if !c.out.Scan() {
		return nil, errors.New("edge process ended")
	}
	addr, ok := strings.CutPrefix(c.out.Text(), "sip ")
	if !ok {
		return nil, fmt.Errorf("edge process said %q", c.out.Text())
	}
	sipp, err := startSIPp(addr, 2*len(calls), hold)
	if err != nil {
		return nil, err
	}
	up := make(chan struct{})
	defer close(up)
	go func() {
		select {
		case <-sipp.exited:
			c.cmd.Process.Kill()
		case <-up:
		}
	}()
	for range 2 * len(calls) {
		if !c.out.Scan() {
			return sipp, fmt.Errorf("edge process ended while SIPp called (SIPp's log: %s)", filepath.Join(sipp.dir, "sipp.log"))
		}
		f := strings.Fields(c.out.Text())
		if len(f) != 4 || f[0] != "leg" {
			return sipp, fmt.Errorf("edge process said %q", c.out.Text())
		}
		i, err1 := strconv.Atoi(f[1])
		side, err2 := strconv.Atoi(f[2])
		to, err3 := netip.ParseAddrPort(f[3])
		if err := errors.Join(err1, err2, err3); err != nil || i >= len(calls) || side > 1 {
			return sipp, fmt.Errorf("edge process said %q", c.out.Text())
		}
		calls[i][side].to = to
	}
	return sipp, nil
}

func startSIPp(addr string, calls int, hold time.Duration) (*sippRun, error) {
	dir, err := os.MkdirTemp("", "bridge-sipp")
	if err != nil {
		return nil, err
	}
	scen := filepath.Join(dir, "caller.xml")
	if err := os.WriteFile(scen, scenario, 0o640); err != nil {
		return nil, err
	}
	mp, err := freeMediaPorts()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("sipp", "-sf", scen, "-r", "200", "-m", strconv.Itoa(calls), "-l", strconv.Itoa(calls),
		"-d", strconv.Itoa(int(hold/time.Millisecond)), "-i", "127.0.0.1", "-mp", strconv.Itoa(mp),
		"-timeout", "600s", "-nostdin", "-max_socket", "60000", addr)
	cmd.Dir = dir
	log, err := os.Create(filepath.Join(dir, "sipp.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &sippRun{cmd: cmd, dir: dir, exited: make(chan struct{})}
	go func() { cmd.Wait(); log.Close(); close(s.exited) }()
	return s, nil
}

// freeMediaPorts finds an even port p with p to p+3 free: SIPp binds
// its audio and video RTP sockets and their RTCP neighbours there.
func freeMediaPorts() (int, error) {
	for range 100 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		p := c.LocalAddr().(*net.UDPAddr).Port &^ 1
		c.Close()
		if p+3 <= 65535 && portsFree(p, 4) {
			return p, nil
		}
	}
	return 0, errors.New("no four free UDP ports in a row for SIPp's media")
}

func portsFree(p, n int) bool {
	var conns []*net.UDPConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + i})
		if err != nil {
			return false
		}
		conns = append(conns, c)
	}
	return true
}
