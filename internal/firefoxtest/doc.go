// Package firefoxtest starts the headless Firefox (Debian's firefox-esr)
// that Moroz's browser tests drive, and talks to it over its built-in
// WebDriver BiDi remote protocol (W3C WebDriver BiDi, the "session",
// "browser", "browsingContext", "script", "input" and "log" modules), so
// that no geckodriver is needed.
//
// # What it owns
//
//   - [Start]: a fresh profile whose user.js holds the preferences a
//     closed network needs (no first run, telemetry, updates or
//     background networking) plus the test's own, Firefox on
//     --remote-debugging-port=0, and one BiDi session on its /session
//     endpoint. A missing firefox-esr skips the test, or fails it under
//     MOROZ_REQUIRE_PEERS=1, as package chrometest does for Chromium.
//   - [Browser.Call]: any BiDi command by name, typed parameters in and
//     a typed result out; [Tab] wraps the few a test uses (navigate,
//     evaluate, call a function, type keys, screenshot, reload, close).
//   - The page's console messages and errors ([Browser.Logs]), kept for
//     a failing test to print.
//
// # What it does not own
//
// Which page is opened, what it is asked and what counts as passing are
// the tests'. It speaks only the commands above; there is no element
// finding by locator beyond what a script can do. It is for tests only;
// nothing in the binary imports it.
//
// # Concurrency
//
// A Browser and its Tabs are safe for concurrent use: commands are
// written one at a time on the websocket and answered by id; one reader
// goroutine, owned by the Browser, dispatches answers and events. The
// browser, its reader and its process end with the test (t.Cleanup).
package firefoxtest
