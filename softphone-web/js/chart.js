// Simple SVG bar charts for the wallboard: no library needed for two
// charts of 24 bars.

import {svg, h} from './dom.js';

// bars draws one group of bars per hour; series is [{label, cls, values[24]}].
export function bars(title, series) {
  const W = 480, H = 160, pad = 22, n = 24;
  const top = Math.max(1, ...series.flatMap((s) => s.values));
  const max = top < 4 ? top : Math.ceil(top / 2) * 2;
  const ticks = max < 4 ? [0, 1] : [0, 0.5, 1];
  const slot = (W - pad) / n, bw = (slot - 2) / series.length;
  const g = svg('svg', {viewBox: `0 0 ${W} ${H + 18}`, class: 'chart', role: 'img', 'aria-label': title});
  for (const y of ticks) {
    const yy = H - (H - 10) * y;
    g.append(svg('line', {x1: pad, x2: W, y1: yy, y2: yy, class: 'grid'}),
      svg('text', {x: pad - 4, y: yy + 4, class: 'axis', 'text-anchor': 'end'}, max * y));
  }
  for (let i = 0; i < n; i++) {
    series.forEach((s, k) => {
      const v = s.values[i], bh = (H - 10) * v / max;
      g.append(svg('rect', {x: pad + i * slot + 1 + k * bw, y: H - bh, width: Math.max(bw - 1, 1), height: bh, class: s.cls},
        svg('title', null, `${i}:00 ${s.label}: ${v}`)));
    });
    if (i % 3 === 0) g.append(svg('text', {x: pad + i * slot + slot / 2, y: H + 14, class: 'axis', 'text-anchor': 'middle'}, i));
  }
  const legend = h('div', {class: 'legend'}, series.map((s) => h('span', null, h('i', {class: s.cls}), s.label)));
  return h('figure', {class: 'chart-box'}, h('figcaption', null, title), g, legend);
}

// hourly counts the times falling today into 24 buckets.
export function hourly(times) {
  const out = new Array(24).fill(0);
  const today = new Date().toDateString();
  for (const ts of times) {
    if (!ts) continue;
    const d = new Date(ts);
    if (d.toDateString() === today) out[d.getHours()]++;
  }
  return out;
}
