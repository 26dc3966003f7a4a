// Typing indicators of chats (protocol.md, "Typing"): the visitor's come
// from the server for an item, and the helper's go out while they write a
// reply, at most every few seconds.

import {state} from './state.js';

const shownFor = 6000; // ms an indicator shows after the last one came
const sendEvery = 3000; // ms between the helper's indicators

const until = new Map(); // item id -> when its visitor's indicator ends
const timers = new Map(); // item id -> the timeout that ends it

// visitorTyping notes the server's {"type": "typing", "data": {item_id}}.
export function visitorTyping(data) {
  const id = data && data.item_id;
  if (!id) return;
  until.set(id, Date.now() + shownFor);
  clearTimeout(timers.get(id));
  timers.set(id, setTimeout(() => {
    until.delete(id);
    timers.delete(id);
    state.changed('typing');
  }, shownFor));
  state.changed('typing');
}

// isTyping reports whether the visitor of item id is typing now.
export function isTyping(id) {
  return (until.get(id) || 0) > Date.now();
}

// sendWhileTyping makes the editor of a chat item tell the visitor that
// the helper is typing.
export function sendWhileTyping(editor, socket, itemID) {
  let last = 0;
  editor.addEventListener('input', () => {
    const now = Date.now();
    if (!editor.value || now - last < sendEvery) return;
    last = now;
    socket.request('typing', {item_id: itemID}).catch(() => {}); // an indicator lost is harmless
  });
}
