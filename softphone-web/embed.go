// Package softphoneweb holds the browser app — the helper desk and the
// supervisor wallboard — as plain ES modules, web components and CSS, and
// embeds it in the binary so that it runs with no build step. The console
// serves FS at /.
//
// It owns only static files; everything the app knows comes from the
// console's JSON API and websocket (console/protocol.md).
package softphoneweb

import (
	"embed"
	"io/fs"
)

//go:embed index.html css js i18n
var files embed.FS

// FS is the app's files, index.html at its root. It is read-only and safe
// for concurrent use.
var FS fs.FS = files
