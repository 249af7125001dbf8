// The transcript viewer: parse, scan, show every turn, jump between flagged turns, download JSONL.
import { call, describe } from "./api.js";
import { renderViolations, subName } from "./policy.js";
import { ACTION_ZH, el, renderMarked, toJsSpans } from "./text.js";

const $ = (id) => document.getElementById(id);
const SPEAKERS = { agent: "agent", customer: "customer", "坐席": "agent", "客户": "customer",
                   "催收员": "agent", "客服": "agent" };
const SPEAKER_ZH = { agent: "坐席", customer: "客户" };
const LINE = /^\s*(坐席|客户|agent|customer)\s*[：:]\s?(.*)$/i;

export class ParseError extends Error {}

function turnFrom(obj, where) {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new ParseError(`${where}不是 {"speaker", "text"} 对象。`);
  const speaker = SPEAKERS[String(obj.speaker ?? "").trim().toLowerCase()] || SPEAKERS[String(obj.speaker ?? "").trim()];
  if (!speaker) throw new ParseError(`${where}的 speaker 应为 agent（坐席）或 customer（客户），而不是「${obj.speaker ?? "（空）"}」。`);
  if (typeof obj.text !== "string") throw new ParseError(`${where}缺少文本字段 text。`);
  const turn = { speaker, text: obj.text };
  if (obj.recipient !== undefined) turn.recipient = obj.recipient;
  return turn;
}

/** JSON {turns:[...]} or [...], JSONL, or 坐席：/客户： lines -> [{speaker, text}]. Throws ParseError. */
export function parseTranscript(raw) {
  const text = raw.replace(/^\uFEFF/, "").trim();
  if (!text) throw new ParseError("通话记录为空：请粘贴或上传一份通话记录。");
  if (text.startsWith("{") || text.startsWith("[")) {
    let whole;
    try { whole = JSON.parse(text); } catch { whole = undefined; }
    if (whole !== undefined) {
      const list = Array.isArray(whole) ? whole : whole.turns;
      if (Array.isArray(list)) {
        if (!list.length) throw new ParseError("通话记录中没有任何轮次。");
        return list.map((t, i) => turnFrom(t, `第 ${i + 1} 轮`));
      }
      if (!Array.isArray(whole) && "speaker" in whole) return [turnFrom(whole, "第 1 行")];
      throw new ParseError("JSON 中没有 turns 数组。");
    }
    const turns = [];
    text.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim()) return;
      let obj;
      try { obj = JSON.parse(line); } catch (e) { throw new ParseError(`第 ${i + 1} 行不是有效的 JSON：${e.message}`); }
      turns.push(turnFrom(obj, `第 ${i + 1} 行`));
    });
    return turns;
  }
  const turns = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const m = LINE.exec(line);
    if (m) {
      turns.push({ speaker: SPEAKERS[m[1].toLowerCase()] || SPEAKERS[m[1]], text: m[2] });
    } else if (line.trim()) {
      if (!turns.length) throw new ParseError(`第 ${i + 1} 行没有以「坐席：」或「客户：」开头。`);
      turns[turns.length - 1].text += "\n" + line;   // a turn that runs over several lines
    }
  });
  return turns;
}

let last = null;       // {turns, result}
let flagged = [];      // indices of turns that need a look
let pos = -1;

function showError(msg) {
  $("transcript-error").textContent = msg;
  $("transcript-error").hidden = !msg;
}

function render(turns, res) {
  const list = $("turns");
  list.replaceChildren();
  flagged = [];
  pos = -1;
  const escalations = [];
  res.turns.forEach((t, i) => {
    const text = turns[i].text;
    const li = el("li", "turn turn-" + t.speaker);
    li.id = "turn-" + i;
    li.tabIndex = -1;
    const head = el("div", "turn-head");
    head.append(el("span", "turn-no", `第 ${i + 1} 轮`), el("span", "turn-speaker", SPEAKER_ZH[t.speaker] || t.speaker));
    const spans = [];
    const isFlag = (t.speaker === "agent" && t.decision !== "allow") || t.signals.length > 0;
    if (t.speaker === "agent") {
      const badge = el("span", "badge badge-" + t.decision, ACTION_ZH[t.decision] || t.decision);
      head.append(badge);
      for (const v of t.violations) {
        for (const e of v.evidence) spans.push({ start: e.start, end: e.end, cls: v.action === "block" ? "v-block" : "v-flag", title: subName(v.subcategory) });
      }
    }
    for (const s of t.signals) {
      head.append(el("span", s.escalate ? "badge badge-escalate" : "badge badge-signal",
                      (s.escalate ? "⚠ 需升级：" : "客户信号：") + s.name));
      for (const e of s.evidence) spans.push({ start: e.start, end: e.end, cls: s.escalate ? "sig-escalate" : "sig", title: s.name });
      if (s.escalate) escalations.push(`第 ${i + 1} 轮「${s.name}」`);
    }
    if (isFlag) {
      li.classList.add("turn-flagged");
      flagged.push(i);
    }
    if (t.signals.some((s) => s.escalate)) li.classList.add("turn-escalate");
    const body = el("p", "turn-text");
    renderMarked(body, text, toJsSpans(text, spans));
    li.append(head, body);
    if (t.violations.length) {
      const ul = el("ul", "chips");
      ul.setAttribute("aria-label", `第 ${i + 1} 轮的问题`);
      renderViolations(ul, t.violations);
      li.append(ul);
    }
    list.append(li);
  });

  const b = $("transcript-banner");
  const agentBad = res.turns.filter((t) => t.speaker === "agent" && t.decision !== "allow").length;
  const signals = res.turns.reduce((n, t) => n + t.signals.length, 0);
  const icon = { block: "✕", flag: "!", allow: "✓" }[res.decision];
  b.className = "banner banner-" + res.decision;
  b.dataset.decision = res.decision;
  b.textContent = `${icon} 整通电话：${ACTION_ZH[res.decision]}。共 ${res.turns.length} 轮，坐席违规 ${agentBad} 轮，客户信号 ${signals} 处，标记 ${flagged.length} 轮。`;

  const esc = $("transcript-escalate");
  esc.hidden = !res.escalate;
  esc.textContent = res.escalate ? `⚠ 需立即升级处理：客户在${escalations.join("、")}表达了高风险信号。请暂停催收，按流程转交主管或专人跟进。` : "";

  $("prev-flagged").disabled = $("next-flagged").disabled = flagged.length === 0;
  $("flagged-pos").textContent = flagged.length ? `共 ${flagged.length} 处标记` : "没有需要关注的轮次";
  $("transcript-result").hidden = false;
}

function jump(step) {
  if (!flagged.length) return;
  pos = pos < 0 ? (step > 0 ? 0 : flagged.length - 1) : (pos + step + flagged.length) % flagged.length;
  const li = $("turn-" + flagged[pos]);
  document.querySelectorAll(".turn-current").forEach((e) => e.classList.remove("turn-current"));
  li.classList.add("turn-current");
  li.scrollIntoView({ block: "center" });
  li.focus({ preventScroll: true });
  $("flagged-pos").textContent = `第 ${pos + 1} / ${flagged.length} 处标记（第 ${flagged[pos] + 1} 轮）`;
}

function download() {
  if (!last) return;
  const { turns, result } = last;
  const lines = [JSON.stringify({ kind: "summary", decision: result.decision, escalate: result.escalate,
                                  turns: result.turns.length, policy_version: result.policy_version,
                                  model_version: result.model_version, audit_seq: result.audit_seq })];
  result.turns.forEach((t, i) => lines.push(JSON.stringify({ kind: "turn", ...t, text: turns[i].text })));
  const blob = new Blob([lines.join("\n") + "\n"], { type: "application/x-ndjson" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = `transcript-scan-${result.audit_seq}.jsonl`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function scan() {
  showError("");
  let turns;
  try {
    turns = parseTranscript($("transcript-input").value);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    showError("无法解析通话记录：" + e.message);
    return;
  }
  const btn = $("transcript-scan");
  btn.disabled = true;
  btn.textContent = "扫描中…";
  try {
    const result = await call("v1/transcripts/scan", { turns });
    last = { turns, result };
    render(turns, result);
    $("transcript-h").focus();
  } catch (err) {
    showError(describe(err));
  } finally {
    btn.disabled = false;
    btn.textContent = "扫描";
  }
}

export function initTranscript() {
  $("transcript-h").tabIndex = -1;
  $("transcript-form").addEventListener("submit", (ev) => { ev.preventDefault(); scan(); });
  $("transcript-file").addEventListener("change", async (ev) => {
    const file = ev.target.files && ev.target.files[0];
    if (!file) return;
    $("transcript-file-name").textContent = file.name;
    try {
      $("transcript-input").value = await file.text();
    } catch {
      showError("无法读取文件：请确认它是 UTF-8 文本文件。");
      return;
    }
    scan();
  });
  $("prev-flagged").addEventListener("click", () => jump(-1));
  $("next-flagged").addEventListener("click", () => jump(1));
  $("download-jsonl").addEventListener("click", download);
}
