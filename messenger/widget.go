package messenger

import (
	_ "embed"
	"net/http"
)

// widgetJS is the chat widget a site embeds with
// <script src="https://moroz.example/chat/widget.js" defer></script>.
//
//go:embed web/widget.js
var widgetJS []byte

func serveWidget(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(widgetJS)
}
