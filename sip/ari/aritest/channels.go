package aritest

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// fakeChannel is one channel of the fake Asterisk.
type fakeChannel struct {
	id       string
	endpoint string // originated channels: the endpoint rung
	obj      map[string]any
	media    *Endpoint // external media channels: the Asterisk side of RTP
}

func (c *fakeChannel) closeMedia() {
	if c.media != nil {
		c.media.close()
	}
}

// newChannelLocked makes a Channel object from its model.
func (s *Server) newChannelLocked(id, name, state, number, exten string) *fakeChannel {
	if id == "" {
		s.seq++
		id = fmt.Sprintf("1764790000.%d", s.seq)
	}
	obj := s.spec.fill("Channel", 0)
	obj["id"], obj["name"], obj["state"] = id, name, state
	obj["protocol_id"] = id + "@fake"
	obj["language"] = "ru"
	obj["creationtime"] = time.Now().UTC().Format("2006-01-02T15:04:05.000-0700")
	obj["caller"] = map[string]any{"name": "", "number": number}
	obj["connected"] = map[string]any{"name": "", "number": ""}
	obj["dialplan"] = map[string]any{"context": "from-trunk", "exten": exten, "priority": 1,
		"app_name": "Stasis", "app_data": s.app}
	ch := &fakeChannel{id: id, obj: obj}
	s.channels[id] = ch
	return ch
}

func (s *Server) channelObject(id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[id]
	if !ok {
		return nil, false
	}
	return ch.copyObj(), true
}

func (c *fakeChannel) copyObj() map[string]any {
	out := make(map[string]any, len(c.obj))
	for k, v := range c.obj {
		out[k] = v
	}
	return out
}

// NewCall simulates a call from number to exten entering the app
// (StasisStart) and returns its channel id.
func (s *Server) NewCall(number, exten string) string {
	s.mu.Lock()
	ch := s.newChannelLocked("", "PJSIP/trunk-0000"+fmt.Sprint(s.seq+1), "Ring", number, exten)
	obj := ch.copyObj()
	s.mu.Unlock()
	s.Send("StasisStart", map[string]any{"channel": obj, "args": []string{}})
	return ch.id
}

// Press simulates the caller pressing digit (ChannelDtmfReceived).
func (s *Server) Press(id string, digit rune) {
	obj, ok := s.channelObject(id)
	if !ok {
		s.t.Errorf("ari fake: press on unknown channel %s", id)
		return
	}
	s.Send("ChannelDtmfReceived", map[string]any{"channel": obj, "digit": string(digit), "duration_ms": 120})
}

// Hangup simulates the far end hanging up channel id: ChannelHangupRequest,
// StasisEnd and ChannelDestroyed, as Asterisk sends them.
func (s *Server) Hangup(id string, cause int) {
	ch, ok := s.remove(id)
	if !ok {
		return
	}
	obj := ch.copyObj()
	s.Send("ChannelHangupRequest", map[string]any{"channel": obj, "cause": cause})
	s.Send("StasisEnd", map[string]any{"channel": obj})
	s.Send("ChannelDestroyed", map[string]any{"channel": obj, "cause": cause, "cause_txt": causeText(cause)})
}

// remove takes a channel out of the fake and its bridges.
func (s *Server) remove(id string) (*fakeChannel, bool) {
	s.mu.Lock()
	ch, ok := s.channels[id]
	delete(s.channels, id)
	for _, members := range s.bridges {
		delete(members, id)
	}
	s.mu.Unlock()
	if ok {
		ch.closeMedia()
	}
	return ch, ok
}

// Restart simulates Asterisk restarting: every channel and bridge is
// gone without an event, and the websockets drop.
func (s *Server) Restart() {
	s.mu.Lock()
	chans := s.channels
	s.channels, s.bridges = map[string]*fakeChannel{}, map[string]map[string]bool{}
	s.startup = s.startup.Add(time.Minute) // a later start, whatever the clock says
	s.mu.Unlock()
	for _, ch := range chans {
		ch.closeMedia()
	}
	s.DropEvents()
}

// Channels lists the ids of the channels the fake has.
func (s *Server) Channels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.channels {
		out = append(out, id)
	}
	return out
}

// Bridges returns the fake's bridges and their channels.
func (s *Server) Bridges() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for id, members := range s.bridges {
		out[id] = []string{}
		for ch := range members {
			out[id] = append(out[id], ch)
		}
	}
	return out
}

// SetPhones sets what a rung endpoint does; nil (the default) answers.
func (s *Server) SetPhones(f func(endpoint string) Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phones = f
}

func causeText(cause int) string {
	switch cause {
	case 16:
		return "Normal Clearing"
	case 17:
		return "User busy"
	case 19:
		return "No user response"
	case 21:
		return "Call Rejected"
	}
	return "Unknown"
}

// route serves the operations the fake implements; other documented
// operations answer 501.
func (s *Server) route(w http.ResponseWriter, r *http.Request, op *operation, vars map[string]string) {
	q := r.URL.Query()
	switch op.method + " " + op.path {
	case "GET /events":
		s.serveEvents(w, r)
	case "GET /asterisk/info":
		s.info(w)
	case "GET /channels":
		s.listChannels(w)
	case "GET /channels/{channelId}":
		s.getChannel(w, vars["channelId"])
	case "POST /channels/{channelId}/answer":
		s.answer(w, vars["channelId"])
	case "DELETE /channels/{channelId}":
		s.hangupRequest(w, vars["channelId"])
	case "POST /channels":
		s.originate(w, q.Get("endpoint"), q.Get("channelId"), q.Get("appArgs"), q.Get("callerId"))
	case "POST /channels/externalMedia":
		s.externalMedia(w, q.Get("channelId"), q.Get("external_host"), q.Get("format"))
	case "GET /bridges":
		s.listBridges(w)
	case "POST /bridges":
		s.createBridge(w, q.Get("bridgeId"))
	case "DELETE /bridges/{bridgeId}":
		s.destroyBridge(w, vars["bridgeId"])
	case "POST /bridges/{bridgeId}/addChannel":
		s.bridgeChannels(w, vars["bridgeId"], q.Get("channel"), true)
	case "POST /bridges/{bridgeId}/removeChannel":
		s.bridgeChannels(w, vars["bridgeId"], q.Get("channel"), false)
	case "POST /channels/{channelId}/play":
		s.play(w, vars["channelId"], q.Get("playbackId"), q.Get("media"))
	case "POST /channels/{channelId}/record":
		s.record(w, vars["channelId"], q.Get("name"), q.Get("format"))
	case "POST /recordings/live/{recordingName}/stop":
		s.stopRecording(w, vars["recordingName"])
	default:
		writeError(w, http.StatusNotImplemented, op.nickname+" is not simulated by the fake")
	}
}

func (s *Server) listChannels(w http.ResponseWriter) {
	s.mu.Lock()
	out := []map[string]any{}
	for _, ch := range s.channels {
		out = append(out, ch.copyObj())
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getChannel(w http.ResponseWriter, id string) {
	obj, ok := s.channelObject(id)
	if !ok {
		writeError(w, http.StatusNotFound, "Channel not found")
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

func (s *Server) answer(w http.ResponseWriter, id string) {
	s.mu.Lock()
	ch, ok := s.channels[id]
	if ok {
		ch.obj["state"] = "Up"
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Channel not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// hangupRequest is DELETE /channels/{id}: the channel leaves the app and
// is destroyed.
func (s *Server) hangupRequest(w http.ResponseWriter, id string) {
	ch, ok := s.remove(id)
	if !ok {
		writeError(w, http.StatusNotFound, "Channel not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
	obj := ch.copyObj()
	s.Send("StasisEnd", map[string]any{"channel": obj})
	s.Send("ChannelDestroyed", map[string]any{"channel": obj, "cause": 16, "cause_txt": causeText(16)})
}

// originate rings endpoint: the phone answers (StasisStart with the
// args) or fails (ChannelDestroyed with its cause), as SetPhones says.
func (s *Server) originate(w http.ResponseWriter, endpoint, id, args, callerID string) {
	s.mu.Lock()
	if _, dup := s.channels[id]; dup && id != "" {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, "Channel with given unique ID already exists")
		return
	}
	ch := s.newChannelLocked(id, endpoint+"-00000001", "Down", callerID, "")
	ch.endpoint = endpoint
	ans := Answer{}
	if s.phones != nil {
		ans = s.phones(endpoint)
	}
	obj := ch.copyObj()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, obj)

	if ans.Cause != 0 {
		s.remove(ch.id)
		s.Send("ChannelDestroyed", map[string]any{"channel": obj, "cause": ans.Cause, "cause_txt": causeText(ans.Cause)})
		return
	}
	s.mu.Lock()
	ch.obj["state"] = "Up"
	obj = ch.copyObj()
	s.mu.Unlock()
	var list []string
	if args != "" {
		list = strings.Split(args, ",")
	}
	s.Send("StasisStart", map[string]any{"channel": obj, "args": list})
}

// Originated lists the endpoints rung so far, with their channel ids.
func (s *Server) Originated() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for id, ch := range s.channels {
		if ch.endpoint != "" {
			out[id] = ch.endpoint
		}
	}
	return out
}

func (s *Server) listBridges(w http.ResponseWriter) {
	s.mu.Lock()
	out := []map[string]any{}
	for id, members := range s.bridges {
		out = append(out, s.bridgeObjectLocked(id, members))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) bridgeObjectLocked(id string, members map[string]bool) map[string]any {
	obj := s.spec.fill("Bridge", 0)
	chans := []string{}
	for ch := range members {
		chans = append(chans, ch)
	}
	obj["id"], obj["technology"], obj["bridge_type"], obj["bridge_class"] = id, "simple_bridge", "mixing", "stasis"
	obj["channels"], obj["creator"] = chans, "Stasis"
	return obj
}

func (s *Server) createBridge(w http.ResponseWriter, id string) {
	s.mu.Lock()
	if id == "" {
		s.seq++
		id = fmt.Sprintf("bridge-%d", s.seq)
	}
	if _, dup := s.bridges[id]; dup {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, "Bridge with the same bridgeId already exists")
		return
	}
	s.bridges[id] = map[string]bool{}
	obj := s.bridgeObjectLocked(id, nil)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, obj)
}

func (s *Server) destroyBridge(w http.ResponseWriter, id string) {
	s.mu.Lock()
	_, ok := s.bridges[id]
	delete(s.bridges, id)
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Bridge not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// bridgeChannels adds or removes channels (a comma list) of a bridge.
func (s *Server) bridgeChannels(w http.ResponseWriter, bridge, list string, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	members, ok := s.bridges[bridge]
	if !ok {
		writeError(w, http.StatusNotFound, "Bridge not found")
		return
	}
	ids := strings.Split(list, ",")
	for _, id := range ids {
		if _, ok := s.channels[id]; !ok {
			writeError(w, http.StatusBadRequest, "Channel not found")
			return
		}
		if add {
			members[id] = true
		} else {
			delete(members, id)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// info is GET /asterisk/info: the status part, whose startup time
// changes with each Restart.
func (s *Server) info(w http.ResponseWriter) {
	s.mu.Lock()
	at := s.startup.Format("2006-01-02T15:04:05.000-0700")
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"status": map[string]any{"startup_time": at, "last_reload_time": at}})
}
