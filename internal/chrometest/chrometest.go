// Package chrometest starts the headless Chromium that Moroz's browser
// tests drive (Debian's chromium, through chromedp), the same way for
// every package: the flags a closed network needs, a fresh profile, a
// skip when Chromium is missing that MOROZ_REQUIRE_PEERS=1 turns into a
// failure, and the folder screenshots go to.
//
// It is for tests only; nothing in the binary imports it.
package chrometest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds one browser's life: a hang guard, not a timing
// assertion.
const Timeout = 3 * time.Minute

// Path returns Chromium's path, or skips t when it is not installed (fails
// it under MOROZ_REQUIRE_PEERS=1).
func Path(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatal("chromium is required (MOROZ_REQUIRE_PEERS=1) but not installed (Debian package chromium)")
		}
		t.Skip("chromium not installed (Debian package chromium)")
	}
	return path
}

// Options are the allocator options every test starts from, for a window
// of width×height; extra options follow them.
func Options(t testing.TB, width, height int, extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(width, height),
	}
	return append(opts, extra...)
}

// Start launches Chromium with Options and returns its root context; the
// browser ends with the test.
func Start(t testing.TB, width, height int, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := Options(t, width, height, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(cancelRoot)
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return root
}

// Artifacts returns the folder for screenshots: MOROZ_ARTIFACTS when set,
// else a temporary folder of the test.
func Artifacts(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("MOROZ_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}
