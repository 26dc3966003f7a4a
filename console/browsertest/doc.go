// Package browsertest drives the console's browser app in real headless
// Chromium (chromedp): a helper works an item from offer to wrap-up while
// a supervisor's wallboard follows. It holds tests only; it sits apart from
// package console so that it can build the real work service beside it.
//
// The tests skip when Chromium is missing, unless MOROZ_REQUIRE_PEERS=1.
// Screenshots of each screen go to the folder MOROZ_ARTIFACTS names
// (default: a temporary folder of the test).
package browsertest
