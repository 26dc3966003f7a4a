package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
)

// secretToken is what the Bot API allows as setWebhook's secret_token.
var secretToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

var errNoWebhook = errors.New("telegramtest: no webhook is set")

// defaultMaxConnections is setWebhook's max_connections when not given.
const defaultMaxConnections = 40

// Webhook returns the webhook set now; a zero URL means none.
func (s *Server) Webhook() Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hook
}

// WaitWebhook blocks until a webhook is set or ctx ends, and returns the
// webhook then.
func (s *Server) WaitWebhook(ctx context.Context) Webhook {
	for {
		s.mu.Lock()
		hook, note := s.hook, s.hookNote
		s.mu.Unlock()
		if hook.URL != "" {
			return hook
		}
		select {
		case <-note:
		case <-ctx.Done():
			return s.Webhook()
		}
	}
}

// SetWebhookDirectly sets the webhook as if the bot had called setWebhook
// earlier (from another process, say).
func (s *Server) SetWebhookDirectly(h Webhook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setHookLocked(h)
}

func (s *Server) setHookLocked(h Webhook) {
	s.hook = h
	close(s.hookNote)
	s.hookNote = make(chan struct{})
}

// DeliverToWebhook posts update to the webhook set, with its secret token,
// the way Telegram does, and returns the status it answered. client must
// trust the webhook's certificate.
func (s *Server) DeliverToWebhook(ctx context.Context, client *http.Client, update any) (int, error) {
	h := s.Webhook()
	if h.URL == "" {
		return 0, errNoWebhook
	}
	return Deliver(ctx, client, h.URL, h.Secret, update)
}

func (s *Server) setWebhook(w http.ResponseWriter, p map[string]string) {
	if p["url"] == "" {
		s.deleteWebhook(w, p) // an empty url removes the webhook
		return
	}
	u, err := url.Parse(p["url"])
	if err != nil || u.Scheme != "https" || u.Host == "" {
		fail(w, http.StatusBadRequest, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook", 0)
		return
	}
	secret, given := p["secret_token"]
	if given && !secretToken.MatchString(secret) {
		fail(w, http.StatusBadRequest, "Bad Request: secret token contains unallowed characters", 0)
		return
	}
	h := Webhook{URL: p["url"], Secret: secret, MaxConnections: defaultMaxConnections}
	if raw, ok := p["max_connections"]; ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 100 {
			fail(w, http.StatusBadRequest, "Bad Request: bad max_connections", 0)
			return
		}
		h.MaxConnections = n
	}
	if raw, ok := p["allowed_updates"]; ok && json.Unmarshal([]byte(raw), &h.AllowedUpdates) != nil {
		fail(w, http.StatusBadRequest, "Bad Request: can't parse allowed updates", 0)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p["drop_pending_updates"] == "true" {
		s.updates, s.ids = nil, nil
	}
	s.setHookLocked(h)
	okDescribed(w, "Webhook was set")
}

func (s *Server) deleteWebhook(w http.ResponseWriter, p map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p["drop_pending_updates"] == "true" {
		s.updates, s.ids = nil, nil
	}
	if s.hook.URL == "" {
		okDescribed(w, "Webhook is already deleted")
		return
	}
	s.setHookLocked(Webhook{})
	okDescribed(w, "Webhook was deleted")
}

func (s *Server) getWebhookInfo(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := map[string]any{"url": s.hook.URL, "has_custom_certificate": false, "pending_update_count": len(s.updates)}
	if s.hook.URL != "" {
		info["max_connections"] = s.hook.MaxConnections
		if s.hook.AllowedUpdates != nil {
			info["allowed_updates"] = s.hook.AllowedUpdates
		}
	}
	ok200(w, info)
}

func okDescribed(w http.ResponseWriter, desc string) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": true, "description": desc})
}
