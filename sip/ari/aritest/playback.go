package aritest

import (
	"net/http"
)

// play is POST /channels/{id}/play: the fake plays nothing, so the
// playback starts and finishes at once (PlaybackStarted, then
// PlaybackFinished in state done).
func (s *Server) play(w http.ResponseWriter, channel, id, mediaURI string) {
	if _, ok := s.channelObject(channel); !ok {
		writeError(w, http.StatusNotFound, "Channel not found")
		return
	}
	s.mu.Lock()
	if id == "" {
		s.seq++
		id = "playback-" + itoa(s.seq)
	}
	s.mu.Unlock()
	pb := map[string]any{"id": id, "media_uri": mediaURI, "target_uri": "channel:" + channel, "language": "ru", "state": "playing"}
	writeJSON(w, http.StatusCreated, pb)
	s.Send("PlaybackStarted", map[string]any{"playback": pb})
	done := map[string]any{"id": id, "media_uri": mediaURI, "target_uri": "channel:" + channel, "language": "ru", "state": "done"}
	s.Send("PlaybackFinished", map[string]any{"playback": done})
}

// record is POST /channels/{id}/record: a live recording that stays
// recording until stopped.
func (s *Server) record(w http.ResponseWriter, channel, name, format string) {
	if _, ok := s.channelObject(channel); !ok {
		writeError(w, http.StatusNotFound, "Channel not found")
		return
	}
	rec := map[string]any{"name": name, "format": format, "target_uri": "channel:" + channel, "state": "recording"}
	s.mu.Lock()
	if s.recordings == nil {
		s.recordings = map[string]map[string]any{}
	}
	if _, dup := s.recordings[name]; dup {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, "Recording with the same name is in progress")
		return
	}
	s.recordings[name] = rec
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, rec)
	s.Send("RecordingStarted", map[string]any{"recording": rec})
}

// stopRecording is POST /recordings/live/{name}/stop.
func (s *Server) stopRecording(w http.ResponseWriter, name string) {
	s.mu.Lock()
	rec, ok := s.recordings[name]
	delete(s.recordings, name)
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Recording not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
	rec["state"] = "done"
	s.Send("RecordingFinished", map[string]any{"recording": rec})
}
