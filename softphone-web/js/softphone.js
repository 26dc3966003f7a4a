// The browser softphone: one RTCPeerConnection per call, signalled over
// the console's websocket (protocol.md, "Softphone"). The server offers
// G.711 only, so the browser's audio reaches the caller untranscoded.
// Views listen for 'change' on the phone and read phone.calls.

const micKey = 'moroz.mic';

// gathered resolves once pc has its ICE candidates, or after a short wait:
// the server takes whatever candidates the offer holds by then.
export function gathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') done();
    });
  });
}

// Ringer beeps twice every three seconds while a call rings.
class Ringer {
  start(ctx) {
    if (this.timer) return;
    const beep = () => {
      for (const at of [0, 0.5]) {
        const osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.frequency.value = 440;
        gain.gain.value = 0.15;
        osc.connect(gain).connect(ctx.destination);
        osc.start(ctx.currentTime + at);
        osc.stop(ctx.currentTime + at + 0.35);
      }
    };
    beep();
    this.timer = setInterval(beep, 3000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}

// Call is one call as this tab sees it.
class Call {
  constructor(id, from) {
    this.id = id;
    this.from = from;
    this.state = 'ringing'; // ringing, connecting, talking
    this.held = false;
    this.muted = false;
    this.since = null;      // RFC 3339, when the helper answered
    this.pc = null;
    this.mic = null;        // the microphone's MediaStream
    this.analyser = null;   // what the helper hears
  }

  close() {
    if (this.pc) this.pc.close();
    if (this.mic) this.mic.getTracks().forEach((tr) => tr.stop());
    if (this.audio) this.audio.srcObject = null;
    this.pc = null;
  }
}

export class Phone extends EventTarget {
  constructor() {
    super();
    this.calls = new Map();
    this.error = '';       // the last failure the panel shows (an i18n key)
    this.devices = [];
    this.ringer = new Ringer();
    this.iceServers = [];
    this.ready = false;
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  audioContext() {
    if (!this.ctx) this.ctx = new AudioContext();
    if (this.ctx.state === 'suspended') this.ctx.resume();
    return this.ctx;
  }

  // attach starts using socket; open is called on every (re)connection.
  attach(socket) {
    this.socket = socket;
  }

  request(fields) {
    return this.socket.request('softphone', {softphone: fields});
  }

  // open re-learns this helper's calls after a (re)connection: a call
  // that is talking has lost its audio with the old page or socket and is
  // answered again, which re-attaches it.
  async open() {
    try {
      const cfg = await this.request({op: 'config'});
      this.iceServers = cfg.ice_servers || [];
      const {calls} = await this.request({op: 'list'});
      for (const c of calls) {
        let call = this.calls.get(c.call);
        if (!call) {
          call = new Call(c.call, c.from);
          this.calls.set(c.call, call);
        }
        call.held = c.held;
        call.since = c.since || null;
        if (c.state === 'talking' && !call.pc) this.connect(call);
      }
      for (const id of [...this.calls.keys()]) {
        if (!calls.some((c) => c.call === id)) this.drop(id);
      }
      this.ready = true; // the server knows this console: calls can ring it
      this.ringing();
      this.changed();
    } catch (e) {
      if (e.message !== 'unavailable') this.fail('phone.error_server');
    }
  }

  // onMessage takes a softphone event of the server; a supervisor's
  // monitor events go on to the monitor (monitor.js).
  onMessage(m) {
    if (m.event === 'monitor_ended') {
      this.dispatchEvent(new CustomEvent('monitor', {detail: m}));
      return;
    }
    if (m.event === 'ring' && !this.calls.has(m.call)) {
      this.calls.set(m.call, new Call(m.call, m.from));
    } else if (m.event === 'ended') {
      this.drop(m.call);
    }
    this.ringing();
    this.changed();
  }

  ringing() {
    const any = [...this.calls.values()].some((c) => c.state === 'ringing');
    if (any) this.ringer.start(this.audioContext()); else this.ringer.stop();
  }

  drop(id) {
    const call = this.calls.get(id);
    if (!call) return;
    call.close();
    this.calls.delete(id);
  }

  fail(key) {
    this.error = key;
    this.changed();
  }

  async answer(id) {
    const call = this.calls.get(id);
    if (!call || call.state !== 'ringing') return;
    await this.connect(call);
    this.ringing();
  }

  // connect gets the microphone, offers G.711 audio and applies the
  // server's answer.
  async connect(call) {
    call.state = 'connecting';
    this.error = '';
    this.changed();
    try {
      call.mic = await this.microphone();
    } catch (e) {
      call.state = call.since ? 'talking' : 'ringing';
      return this.fail(e.name === 'NotAllowedError' ? 'phone.mic_denied' : 'phone.mic_missing');
    }
    const pc = new RTCPeerConnection({iceServers: this.iceServers});
    call.pc = pc;
    const track = call.mic.getAudioTracks()[0];
    track.enabled = !call.muted;
    call.sender = pc.addTrack(track, call.mic);
    pc.ontrack = (ev) => this.hear(call, ev.streams[0] || new MediaStream([ev.track]));
    pc.onconnectionstatechange = () => this.changed();
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, 2000);
      const {sdp} = await this.request({op: 'answer', call: call.id, sdp: pc.localDescription.sdp});
      await pc.setRemoteDescription({type: 'answer', sdp});
    } catch (e) {
      call.close();
      call.state = 'ringing';
      return this.fail('phone.error_connect');
    }
    call.state = 'talking';
    call.since = call.since || new Date().toISOString();
    this.devicesChanged();
    this.changed();
  }

  async microphone() {
    const id = localStorage.getItem(micKey);
    const audio = {echoCancellation: true, noiseSuppression: true};
    if (id) audio.deviceId = {ideal: id};
    return navigator.mediaDevices.getUserMedia({audio});
  }

  // hear plays the remote audio and taps it for the level meter.
  hear(call, stream) {
    if (!call.audio) {
      call.audio = new Audio();
      call.audio.autoplay = true;
    }
    call.audio.srcObject = stream;
    call.audio.play().catch(() => {});
    const ctx = this.audioContext();
    call.analyser = ctx.createAnalyser();
    call.analyser.fftSize = 2048;
    ctx.createMediaStreamSource(stream).connect(call.analyser);
  }

  // level is the loudness of what the helper hears, 0..1.
  level(call) {
    if (!call.analyser) return 0;
    const buf = new Float32Array(call.analyser.fftSize);
    call.analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    return Math.min(1, Math.sqrt(sum / buf.length) * 4);
  }

  // dominant is the loudest frequency the helper hears, in Hz, and its
  // level in dB.
  dominant(call) {
    if (!call || !call.analyser) return {hz: 0, db: -Infinity};
    const bins = new Float32Array(call.analyser.frequencyBinCount);
    call.analyser.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    return {hz: best * this.ctx.sampleRate / call.analyser.fftSize, db: bins[best]};
  }

  // levelAt is the level in dB of what the helper hears at hz.
  levelAt(call, hz) {
    return call && call.analyser ? this.levelIn(call.analyser, hz) : -Infinity;
  }

  // levelIn is analyser's loudest bin within 30 Hz of hz, in dB.
  levelIn(analyser, hz) {
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    const width = this.ctx.sampleRate / analyser.fftSize;
    let best = -Infinity;
    for (let i = Math.max(0, Math.floor((hz - 30) / width)); i <= Math.ceil((hz + 30) / width) && i < bins.length; i++) {
      best = Math.max(best, bins[i]);
    }
    return best;
  }

  async reject(id) {
    await this.request({op: 'reject', call: id}).catch(() => this.fail('phone.error_server'));
  }

  async hangup(id) {
    await this.request({op: 'hangup', call: id}).catch(() => {});
    this.drop(id);
    this.changed();
  }

  async hold(id, on) {
    const call = this.calls.get(id);
    try {
      await this.request({op: 'hold', call: id, on});
      call.held = on;
    } catch (e) {
      this.fail('phone.error_server');
    }
    this.changed();
  }

  // transfer hands the caller to a queue ({queue}) or a helper
  // ({helper_id}); the server ends this leg and the call rings there.
  async transfer(id, to) {
    try {
      await this.request({op: 'transfer', call: id, ...to});
      this.drop(id);
    } catch (e) {
      this.fail('phone.error_server');
    }
    this.changed();
  }

  mute(id, on) {
    const call = this.calls.get(id);
    call.muted = on;
    if (call.mic) call.mic.getAudioTracks().forEach((tr) => { tr.enabled = !on; });
    this.changed();
  }

  // dtmf sends a key as RFC 4733 events on the call's audio.
  dtmf(id, key) {
    const call = this.calls.get(id);
    if (call && call.sender && call.sender.dtmf) call.sender.dtmf.insertDTMF(key, 120, 80);
  }

  async devicesChanged() {
    const all = await navigator.mediaDevices.enumerateDevices();
    this.devices = all.filter((d) => d.kind === 'audioinput');
    this.changed();
  }

  selectedDevice() {
    return localStorage.getItem(micKey) || '';
  }

  // chooseDevice switches the microphone, also on calls in progress.
  async chooseDevice(id) {
    localStorage.setItem(micKey, id);
    for (const call of this.calls.values()) {
      if (!call.sender) continue;
      const mic = await this.microphone();
      const track = mic.getAudioTracks()[0];
      track.enabled = !call.muted;
      await call.sender.replaceTrack(track);
      call.mic.getTracks().forEach((tr) => tr.stop());
      call.mic = mic;
    }
    this.changed();
  }
}

export const phone = new Phone();
