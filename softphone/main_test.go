package softphone_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// TestMain runs the tests in a network namespace of their own (unshare -n,
// loopback up) when it can, so that the browser's and the server's ICE
// candidates are loopback ones only and nothing leaves the machine. It
// re-executes the test binary inside the namespace; without root or
// unshare the tests run where they are.
func TestMain(m *testing.M) {
	if os.Getenv("MOROZ_NETNS") != "" || os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil || exec.Command(unshare, "-n", "--", "ip", "link", "set", "lo", "up").Run() != nil {
		os.Exit(m.Run()) // no namespaces here: run where we are
	}
	// Firefox gathers only the default route's address when the page has
	// no stored microphone permission (a fake microphone has none): the
	// namespace gets one, a documentation address on loopback.
	netns := `ip link set lo up && ip addr add 198.51.100.1/32 dev lo && ip route add default dev lo src 198.51.100.1 && exec "$@"`
	args := append([]string{"-n", "--", "sh", "-c", netns, "sh"}, os.Args...)
	cmd := exec.Command(unshare, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "MOROZ_NETNS=1")
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	}
	fmt.Fprintln(os.Stderr, "softphone tests: unshare -n:", err)
	os.Exit(1)
}
