// The console's JSON API and its websocket.

// ApiError carries the status and the server's error message.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// api calls /api/v1 + path with an optional JSON body.
export async function api(method, path, body) {
  const init = {method, credentials: 'same-origin', headers: {}};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch('/api/v1' + path, init);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data.error || res.statusText);
  return data;
}

// Socket keeps one websocket open, reconnecting with a backoff; each
// connection starts with a fresh snapshot. onMessage gets every message,
// unpacked from frames that carry several.
export class Socket {
  constructor(onMessage, onState) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.next = 1;
    this.pending = new Map();
    this.backoff = 500;
    this.stopped = false;
  }

  open() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/ws`);
    this.ws = ws;
    ws.onopen = () => { this.backoff = 500; this.onState('open'); };
    ws.onmessage = (ev) => {
      const data = JSON.parse(ev.data);
      for (const m of Array.isArray(data) ? data : [data]) this.dispatch(m);
    };
    ws.onclose = (ev) => {
      for (const [, p] of this.pending) p.reject(new Error('unavailable'));
      this.pending.clear();
      this.onState(ev.code === 4003 ? 'revoked' : 'closed');
      if (this.stopped || ev.code === 4003) return;
      setTimeout(() => this.open(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
  }

  dispatch(m) {
    if (m.type === 'result' && this.pending.has(m.id)) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.data); else p.reject(new Error(m.error));
      return;
    }
    this.onMessage(m);
  }

  // request sends one request and resolves with its result's data.
  request(type, fields) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('unavailable'));
        return;
      }
      this.pending.set(id, {resolve, reject});
      this.ws.send(JSON.stringify({v: 1, type, id, ...fields}));
    });
  }

  close() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
  }
}
