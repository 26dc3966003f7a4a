// Package consolecheck holds only tests of the messenger with the console:
// that the console names the messenger repeats (its session cookie and API
// token prefix) are the console's, and the typing indicators between the
// widget and the desk in Chromium. It lives apart so that the messenger's
// own tests do not need the console to build.
package consolecheck
