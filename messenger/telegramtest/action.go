package telegramtest

import (
	"context"
	"net/http"
	"strconv"
)

// Action is one sendChatAction call.
type Action struct {
	ChatID int64
	Action string
}

// chatActions are the actions the Bot API documents for sendChatAction.
var chatActions = map[string]bool{"typing": true, "upload_photo": true, "record_video": true,
	"upload_video": true, "record_voice": true, "upload_voice": true, "upload_document": true,
	"choose_sticker": true, "find_location": true, "record_video_note": true, "upload_video_note": true}

// Actions returns the chat actions sent so far.
func (s *Server) Actions() []Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Action(nil), s.actions...)
}

func (s *Server) sendChatAction(w http.ResponseWriter, p map[string]string) {
	chat, err := strconv.ParseInt(p["chat_id"], 10, 64)
	if err != nil || !chatActions[p["action"]] {
		fail(w, http.StatusBadRequest, "Bad Request: wrong chat_id or action", 0)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.actions = append(s.actions, Action{ChatID: chat, Action: p["action"]})
	close(s.sentNote)
	s.sentNote = make(chan struct{})
	ok200(w, true)
}

// WaitActions blocks until at least n chat actions were sent or ctx ends,
// and returns those sent.
func (s *Server) WaitActions(ctx context.Context, n int) []Action {
	return waitLen(ctx, s, n, func() []Action { return s.actions })
}
