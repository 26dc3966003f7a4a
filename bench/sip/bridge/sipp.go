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

// connectEdge has SIPp call the edge twice per bridged call and points
// each end at the leg the edge answered that side with. SIPp stays on
// the calls for hold; the caller kills it when done.
func (c *child) connectEdge(calls [][2]*end, hold time.Duration) (*exec.Cmd, error) {
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
	for range 2 * len(calls) {
		if !c.out.Scan() {
			return sipp, errors.New("edge process ended while SIPp called")
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

func startSIPp(addr string, calls int, hold time.Duration) (*exec.Cmd, error) {
	dir, err := os.MkdirTemp("", "bridge-sipp")
	if err != nil {
		return nil, err
	}
	scen := filepath.Join(dir, "caller.xml")
	if err := os.WriteFile(scen, scenario, 0o640); err != nil {
		return nil, err
	}
	mp, err := freeUDPPort()
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
	return cmd, cmd.Start()
}

func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
