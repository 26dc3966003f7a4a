// The supervisor's monitor of a helper's live call: a peer connection of
// its own, signalled with "monitor" requests over the console's
// websocket (protocol.md, "Supervisor listen, whisper and barge"). The
// server sends the caller and the helper mixed; the supervisor's
// microphone reaches the helper (whisper) and the caller too (barge).
// Views listen for 'change' and read monitor.active.

import {phone, gathered} from './softphone.js';

export const modes = ['listen', 'whisper', 'barge'];

class Monitor extends EventTarget {
  constructor() {
    super();
    this.active = null; // {call, mode, state, pc, mic, analyser, audio}
    this.error = '';     // the last failure, an i18n key
    phone.addEventListener('monitor', (ev) => this.onEvent(ev.detail));
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  request(fields) {
    return phone.socket.request('monitor', {monitor: fields});
  }

  calls() {
    return this.request({op: 'calls'}).then((d) => d.calls || []);
  }

  // start joins call in mode, leaving any other call first.
  async start(call, mode) {
    if (this.active && this.active.call === call) return this.setMode(mode);
    if (this.active) await this.leave();
    const a = {call, mode, state: 'connecting'};
    this.active = a;
    this.error = '';
    this.changed();
    try {
      a.mic = await phone.microphone();
      const pc = new RTCPeerConnection({iceServers: phone.iceServers});
      a.pc = pc;
      pc.addTrack(a.mic.getAudioTracks()[0], a.mic);
      pc.ontrack = (ev) => this.hear(a, ev.streams[0] || new MediaStream([ev.track]));
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, 2000);
      const {sdp} = await this.request({op: 'start', call, mode, sdp: pc.localDescription.sdp});
      await pc.setRemoteDescription({type: 'answer', sdp});
      a.state = 'on';
    } catch (e) {
      this.close(a);
      this.error = e.message === 'wrong_state' ? 'monitor.busy' : 'monitor.error';
    }
    this.changed();
  }

  async setMode(mode) {
    const a = this.active;
    if (!a || a.mode === mode) return;
    try {
      await this.request({op: 'mode', call: a.call, mode});
      a.mode = mode;
      this.error = '';
    } catch {
      this.error = 'monitor.error';
    }
    this.changed();
  }

  async leave() {
    const a = this.active;
    if (!a) return;
    await this.request({op: 'leave', call: a.call}).catch(() => {});
    this.close(a);
    this.changed();
  }

  // onEvent takes the server's monitor_ended: the call ended, or this
  // supervisor's connection closed or moved.
  onEvent(m) {
    if (m.event !== 'monitor_ended' || !this.active || this.active.call !== m.call) return;
    if (this.active.state === 'connecting') return; // a new start on the same call
    this.close(this.active);
    this.changed();
  }

  close(a) {
    if (a.pc) a.pc.close();
    if (a.mic) a.mic.getTracks().forEach((tr) => tr.stop());
    if (a.audio) a.audio.srcObject = null;
    if (this.active === a) this.active = null;
  }

  hear(a, stream) {
    a.audio = new Audio();
    a.audio.autoplay = true;
    a.audio.srcObject = stream;
    a.audio.play().catch(() => {});
    const ctx = phone.audioContext();
    a.analyser = ctx.createAnalyser();
    a.analyser.fftSize = 2048;
    ctx.createMediaStreamSource(stream).connect(a.analyser);
  }

  // levelAt is the level in dB of what the supervisor hears at hz (the
  // loudest bin within 30 Hz of it).
  levelAt(hz) {
    const a = this.active;
    return a && a.analyser ? phone.levelIn(a.analyser, hz) : -Infinity;
  }
}

export const monitor = new Monitor();
