/* Thongthin: small inline-SVG charts (no library, nothing fetched). window.TTCharts = {bars, lines, heatmap, color}.
   Every mark carries data-* attributes with its raw value (tests and screen readers read them); every
   chart has a <title> and an aria-label. Sizes are in viewBox units: the SVG scales to its container. */
'use strict';
(() => {
const NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, v);
  for (const kid of kids.flat(9)) if (kid != null) el.append(kid.nodeType ? kid : document.createTextNode(String(kid)));
  return el;
}
function svg(width, height, label, cls, kids) {
  return s('svg', {viewBox: `0 0 ${width} ${height}`, class: 'chart-svg ' + cls, role: 'img', 'aria-label': label,
    preserveAspectRatio: 'xMinYMin meet'}, s('title', null, label), kids);
}
// red (0) → amber (0.5) → green (1); grey when there is no value
function color(r) {
  if (r == null || isNaN(r)) return '#d9dde3';
  const x = Math.max(0, Math.min(1, r)), mix = (a, b, t) => Math.round(a + (b - a) * t);
  const [c1, c2, t] = x < 0.5 ? [[196, 49, 43], [232, 163, 23], x / 0.5] : [[232, 163, 23], [31, 138, 76], (x - 0.5) / 0.5];
  return `rgb(${mix(c1[0], c2[0], t)},${mix(c1[1], c2[1], t)},${mix(c1[2], c2[2], t)})`;
}
function nice(x) {  // 72.2 → 80, 0.37 → 0.4, 1234 → 2000: round grid lines
  const step = Math.pow(10, Math.floor(Math.log10(x)));
  return Math.ceil(x / step) * step;
}
const cut = (text, n) => (String(text).length > n ? String(text).slice(0, n - 1) + '…' : String(text));

/* Horizontal bars, one per item {key, label, value, extra}: value 0..max (null = no data).
   opts: {max, fmt(value), label, href(item), target(item) (a tick), width} */
function bars(items, opts = {}) {
  const W = opts.width || 640, row = 26, left = Math.min(230, Math.round(W * 0.38)), right = 64, top = 6;
  const max = opts.max || Math.max(1e-9, ...items.map((i) => i.value || 0), ...items.map((i) => (opts.target ? opts.target(i) || 0 : 0)));
  const span = W - left - right, H = top * 2 + row * items.length;
  const marks = items.map((item, k) => {
    const y = top + k * row, w = item.value == null ? 0 : Math.max(1, span * Math.min(item.value, max) / max);
    const text = s('text', {x: left - 6, y: y + row / 2 + 4, 'text-anchor': 'end', class: 'lbl'}, cut(item.label, 28));
    const name = opts.href ? s('a', {href: opts.href(item)}, text) : text;
    const tgt = opts.target && opts.target(item) != null ? s('line', {x1: left + span * Math.min(opts.target(item), max) / max, x2: left + span * Math.min(opts.target(item), max) / max,
      y1: y + 2, y2: y + row - 2, class: 'target', 'data-target': opts.target(item)}) : null;
    return s('g', {class: 'bar', 'data-key': item.key, 'data-value': item.value == null ? '' : item.value},
      s('title', null, `${item.label}: ${opts.fmt ? opts.fmt(item.value) : item.value}`), name,
      s('rect', {x: left, y: y + 4, width: w, height: row - 8, rx: 2, fill: opts.colorBy === 'rate' ? color(item.value) : (item.fill || '#0b4f94')}),
      tgt, s('text', {x: left + w + 4, y: y + row / 2 + 4, class: 'val'}, opts.fmt ? opts.fmt(item.value) : item.value));
  });
  const chart = svg(W, Math.max(H, 30), opts.label || '', 'bars', [s('line', {x1: left, x2: left, y1: 0, y2: H, class: 'axis'}), marks]);
  chart.style.maxWidth = Math.round(W * 1.25) + 'px';
  return chart;
}

/* Lines over x labels: series [{name, cls, points: [{x: label, y: number|null}]}]; opts {max, min, fmt, xfmt, label} */
function lines(series, opts = {}) {
  const W = opts.width || 640, H = opts.height || 220, L = 48, R = 24, T = 12, B = 40;
  const xs = [...new Set(series.flatMap((sr) => sr.points.map((p) => p.x)))];
  const ys = series.flatMap((sr) => sr.points.map((p) => p.y)).filter((y) => y != null);
  const max = opts.max != null ? opts.max : nice(Math.max(1e-9, ...ys)), min = opts.min != null ? opts.min : Math.min(0, ...ys);
  const X = (i) => L + (xs.length < 2 ? (W - L - R) / 2 : i * (W - L - R) / (xs.length - 1));
  const Y = (v) => T + (H - T - B) * (1 - (v - min) / ((max - min) || 1));
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => { const v = min + f * (max - min); return s('g', {class: 'grid'},
    s('line', {x1: L, x2: W - R, y1: Y(v), y2: Y(v)}), s('text', {x: L - 4, y: Y(v) + 4, 'text-anchor': 'end'}, opts.fmt ? opts.fmt(v) : v)); });
  const step = Math.max(1, Math.ceil(xs.length / 8));
  const anchor = (i) => (xs.length > 1 && i === 0 ? 'start' : xs.length > 1 && i === xs.length - 1 ? 'end' : 'middle');
  const xlab = xs.map((x, i) => (i % step === 0 || i === xs.length - 1 ? s('text', {x: X(i), y: H - B + 16, 'text-anchor': anchor(i), class: 'lbl'}, opts.xfmt ? opts.xfmt(x) : x) : null));
  const drawn = series.map((sr, n) => {
    const pts = sr.points.map((p) => ({i: xs.indexOf(p.x), ...p})).filter((p) => p.y != null);
    const d = pts.map((p, k) => `${k ? 'L' : 'M'}${X(p.i).toFixed(1)},${Y(p.y).toFixed(1)}`).join('');
    return s('g', {class: 'series s' + n + ' ' + (sr.cls || ''), 'data-series': sr.name},
      d && s('path', {d, fill: 'none'}),
      pts.map((p) => s('circle', {cx: X(p.i), cy: Y(p.y), r: 3.5, 'data-x': p.x, 'data-y': p.y}, s('title', null, `${sr.name} ${opts.xfmt ? opts.xfmt(p.x) : p.x}: ${opts.fmt ? opts.fmt(p.y) : p.y}`))));
  });
  const legend = series.map((sr, n) => s('g', {class: 'legend s' + n + ' ' + (sr.cls || '')}, s('rect', {x: L + n * 150, y: H - 14, width: 12, height: 4}),
    s('text', {x: L + n * 150 + 16, y: H - 9}, cut(sr.name, 20))));
  return svg(W, H, opts.label || '', 'lines', [grid, xlab, drawn, legend]);
}

/* rows [{key, label, cells: {col: rate|null}}] × cols [col]; opts {fmt, xfmt, href(row), label} */
function heatmap(rows, cols, opts = {}) {
  const flat = cols.length <= 8;  // few columns: level headers; many: slanted
  const cw = flat ? 64 : Math.max(34, Math.min(60, Math.floor(480 / cols.length))), ch = 24, L = 190, T = flat ? 24 : 52;
  const W = L + cw * cols.length + 4, H = T + ch * rows.length + 4;
  const head = cols.map((c, j) => s('text', {x: L + j * cw + cw / 2, y: T - 8, 'text-anchor': flat ? 'middle' : 'start', class: 'lbl small',
    transform: flat ? null : `rotate(-40 ${L + j * cw + cw / 2} ${T - 8})`}, opts.xfmt ? opts.xfmt(c) : c));
  const body = rows.map((r, i) => {
    const y = T + i * ch, text = s('text', {x: L - 6, y: y + ch / 2 + 4, 'text-anchor': 'end', class: 'lbl'}, cut(r.label, 26));
    return s('g', {class: 'hrow', 'data-key': r.key}, opts.href ? s('a', {href: opts.href(r)}, text) : text,
      cols.map((c, j) => { const v = r.cells[c]; return s('g', {class: 'cell', 'data-col': c, 'data-value': v == null ? '' : v},
        s('rect', {x: L + j * cw + 1, y: y + 1, width: cw - 2, height: ch - 2, fill: color(v)}, s('title', null, `${r.label} · ${opts.xfmt ? opts.xfmt(c) : c}: ${opts.fmt ? opts.fmt(v) : v}`)),
        cw >= 40 ? s('text', {x: L + j * cw + cw / 2, y: y + ch / 2 + 4, 'text-anchor': 'middle', class: 'cv'}, v == null ? '' : Math.round(v * 100)) : null); }));
  });
  const chart = svg(W, H, opts.label || '', 'heat', [head, body]);
  chart.style.maxWidth = Math.round(W * 1.25) + 'px';  // a few cells should not grow to the page's width
  return chart;
}
window.TTCharts = {bars, lines, heatmap, color};
})();
