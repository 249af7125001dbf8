// Offsets and highlighting. The API's offsets count Unicode code points (Python str
// indices); JS strings count UTF-16 units, so an emoji before a span shifts it by one.

/** map[i] = the JS index of code point i (map has one entry past the end). */
export function codePointMap(text) {
  const map = [0];
  let j = 0;
  for (const ch of text) { j += ch.length; map.push(j); }
  return map;
}

/** Spans in code points -> spans in JS indices (clamped, empty ones dropped). */
export function toJsSpans(text, spans) {
  const map = codePointMap(text);
  const last = map.length - 1;
  const out = [];
  for (const s of spans) {
    const a = Math.max(0, Math.min(last, s.start | 0));
    const b = Math.max(0, Math.min(last, s.end | 0));
    if (b > a) out.push({ ...s, start: map[a], end: map[b] });
  }
  return out;
}

const RANK = { "v-block": 5, "v-flag": 4, "sig-escalate": 3, "sig": 2, "pii": 1 };

/**
 * Render ``text`` into ``el`` with <mark> over spans ({start, end, cls, title}, JS indices).
 * Overlaps are split at every boundary; the strongest class wins. Text goes in as text nodes only.
 */
export function renderMarked(el, text, spans, trailing = "") {
  el.replaceChildren();
  const cuts = new Set([0, text.length]);
  for (const s of spans) { cuts.add(s.start); cuts.add(s.end); }
  const pts = [...cuts].sort((x, y) => x - y);
  for (let i = 0; i + 1 < pts.length; i++) {
    const a = pts[i], b = pts[i + 1];
    const piece = text.slice(a, b);
    const cover = spans.filter((s) => s.start <= a && s.end >= b);
    if (!cover.length) { el.append(document.createTextNode(piece)); continue; }
    cover.sort((x, y) => (RANK[y.cls] || 0) - (RANK[x.cls] || 0));
    const mark = document.createElement("mark");
    mark.className = cover[0].cls;
    const titles = [...new Set(cover.map((s) => s.title).filter(Boolean))];
    if (titles.length) mark.title = titles.join("；");
    mark.textContent = piece;
    el.append(mark);
  }
  if (trailing) el.append(document.createTextNode(trailing));
}

export const ACTION_ZH = { block: "拦截", flag: "需复核", allow: "通过" };

/** A new element with a class and text (text goes in as text, never as HTML). */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
