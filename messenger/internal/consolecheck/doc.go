// Package consolecheck holds only a test: that the console names the
// messenger repeats (its session cookie and API token prefix) are the
// console's. It lives apart so that the messenger's own tests do not need
// the console to build.
package consolecheck
