// Package voicemail records callers' messages and serves recorded audio.
//
// # What it owns
//
//   - Messages ([Recorder.Leave]): the caller's audio recorded to a WAV
//     file under the data folder's voicemail/ (written safely: a temporary
//     file, fsync, rename, then the folder synced), kept only between a
//     minimum and a maximum length; then a voicemail work item in the
//     queue (channel voicemail, its parent the call's item) and the
//     voicemail row (store.CreateVoicemail).
//   - HTTP ([Recorder.Mounts]): the audio of a voicemail for the
//     console's player (Range requests through http.ServeContent), and
//     greetings uploaded by a supervisor into the prompts folder that the
//     voice flow reads before its shipped prompts.
//
// # What it does not own
//
// When a caller is asked to leave a message is the call flow's business
// (package voice); routing the voicemail item is the router's.
//
// # Authentication
//
// The console exports no way to check its sessions, so [StoreAuth] checks
// a request's bearer token (store.TokenByHash) or session cookie
// (store.SessionByHash) the way the console stores them.
package voicemail
