// The live view (实时监听): calls in progress, the running transcript with highlights, the alerts
// with their citations, and a supervisor's acknowledgement. It asks the service once a second,
// and only while this tab is open and the page is visible: an idle page sends nothing.
import { call, describe, getKey } from "./api.js";
import { gateReasons } from "./draft.js";
import { renderViolations, subName } from "./policy.js";
import { ACTION_ZH, el, renderMarked, toJsSpans } from "./text.js";

const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);
const SPEAKER_ZH = { agent: "坐席", customer: "客户" };
const STATUS_ZH = { live: "通话中", disconnected: "连接中断，等待恢复", ending: "正在结束", ended: "已结束" };
const ALERT_ZH = {
  block: ["拦截", "坐席必须立即停止这段话术"],
  escalate: ["需升级", "请主管立即介入"],
  contact_gate: ["联系限制", "本次通话违反联系规则"],
  warning: ["预警", "识别中的话语可能违规"],
};
const SIGNAL_ZH = { distress: "自伤风险", complaint: "投诉意向", dispute: "争议", hardship: "经济困难" };

let active = false;      // the tab is open
let timer = null;
let selected = null;     // call_id
let shownVersion = "";   // what the transcript shows (call id + event count + acks)

function showError(msg) {
  $("live-error").textContent = msg;
  $("live-error").hidden = !msg;
}

function renderCalls(calls) {
  const ul = $("live-calls");
  ul.replaceChildren();
  $("live-empty").hidden = calls.length > 0;
  for (const c of calls) {
    const li = el("li");
    const b = el("button", "live-call" + (c.call_id === selected ? " live-call-current" : ""));
    b.type = "button";
    b.dataset.callId = c.call_id;
    b.setAttribute("aria-pressed", String(c.call_id === selected));
    b.append(el("strong", "", c.call_id), el("span", "live-call-status status-" + c.status, STATUS_ZH[c.status] || c.status));
    const meta = `${c.turns} 轮 · ${ACTION_ZH[c.decision] || c.decision}` + (c.debtor_id ? ` · 债务人 ${c.debtor_id}` : "");
    b.append(el("span", "live-call-meta", meta));
    if (c.open_alerts) b.append(el("span", "badge badge-block", `${c.open_alerts} 条待确认`));
    b.addEventListener("click", () => { selected = c.call_id; shownVersion = ""; refresh(); });
    li.append(b);
    ul.append(li);
  }
}

function alertBody(a) {
  const box = el("div", "alert-body");
  if (a.kind === "contact_gate") {
    box.append(el("p", "", gateReasons(a.contact_policy)));
    return box;
  }
  const who = a.index !== null && a.index !== undefined ? `第 ${a.index + 1} 轮` : `seq ${a.seq}（识别中）`;
  if (a.kind === "escalate") {
    const words = a.signals.map((s) => `${SIGNAL_ZH[s.code] || s.name}「${s.evidence.map((e) => e.text).join("、")}」`);
    box.append(el("p", "", `${who} 客户：${words.join("；")}`));
    return box;
  }
  box.append(el("p", "", `${who} 坐席：${a.reason.map(subName).join("、")}`));
  const ul = el("ul", "chips");
  // a partial hypothesis only warns: its chips say 需复核, never 拦截
  renderViolations(ul, a.partial ? a.violations.map((v) => ({ ...v, action: "flag" })) : a.violations);
  box.append(ul);
  return box;
}

async function acknowledge(callId, alertId, btn) {
  btn.disabled = true;
  btn.textContent = "确认中…";
  try {
    await call(`v1/calls/${encodeURIComponent(callId)}/alerts/${encodeURIComponent(alertId)}/ack`, {});
    showError("");
  } catch (err) {
    showError(describe(err));
  }
  shownVersion = "";
  await refresh();
}

function renderAlerts(c) {
  const ol = $("live-alerts");
  ol.replaceChildren();
  $("live-alerts-none").hidden = c.alerts.length > 0;
  for (const a of [...c.alerts].reverse()) {   // newest first
    const [name, what] = ALERT_ZH[a.kind] || [a.kind, ""];
    const li = el("li", `live-alert alert-${a.kind}` + (a.acked ? " alert-acked" : ""));
    li.id = "alert-" + a.alert_id;
    li.dataset.kind = a.kind;
    const head = el("div", "alert-head");
    head.append(el("span", "badge alert-badge", name), el("strong", "", what),
                el("span", "activity", new Date(a.at).toLocaleTimeString("zh-CN", { hour12: false })));
    li.append(head, alertBody(a));
    if (a.acked) {
      li.append(el("p", "alert-ack-note", `已确认（${new Date(a.acked.at).toLocaleTimeString("zh-CN", { hour12: false })}，审计序号 ${a.acked.audit_seq}）`));
    } else {
      const btn = el("button", "primary alert-ack", "确认已处理");
      btn.type = "button";
      btn.addEventListener("click", () => acknowledge(c.call_id, a.alert_id, btn));
      li.append(btn);
    }
    ol.append(li);
  }
}

function renderTranscript(c) {
  const ol = $("live-transcript");
  ol.replaceChildren();
  for (const t of c.transcript) {
    const r = t.result;
    const li = el("li", "turn turn-" + t.speaker);
    li.id = "live-turn-" + t.index;
    const head = el("div", "turn-head");
    head.append(el("span", "turn-no", `第 ${t.index + 1} 轮`), el("span", "turn-speaker", SPEAKER_ZH[t.speaker]));
    const spans = [];
    if (r && t.speaker === "agent") {
      head.append(el("span", "badge badge-" + r.decision, ACTION_ZH[r.decision] || r.decision));
      for (const v of r.violations) {
        for (const e of v.evidence) spans.push({ start: e.start, end: e.end, cls: v.action === "block" ? "v-block" : "v-flag", title: subName(v.subcategory) });
      }
      if (r.decision !== "allow") li.classList.add("turn-flagged");
    }
    for (const s of (r && r.signals) || []) {
      const esc = s.escalate || s.code === "complaint";
      head.append(el("span", esc ? "badge badge-escalate" : "badge badge-signal", (esc ? "⚠ 需升级：" : "客户信号：") + s.name));
      for (const e of s.evidence) spans.push({ start: e.start, end: e.end, cls: esc ? "sig-escalate" : "sig", title: s.name });
      if (esc) li.classList.add("turn-escalate");
    }
    const body = el("p", "turn-text");
    renderMarked(body, t.text, toJsSpans(t.text, spans));
    li.append(head, body);
    ol.append(li);
  }
  if (c.partial) {
    const li = el("li", "turn turn-partial turn-" + c.partial.speaker);
    li.append(el("div", "turn-head", `${SPEAKER_ZH[c.partial.speaker]} · 识别中…`), el("p", "turn-text", c.partial.text));
    ol.append(li);
  }
}

function renderCall(c) {
  $("live-detail").hidden = false;
  $("live-call-h").textContent = `通话 ${c.call_id}`;
  const st = $("live-call-status");
  st.textContent = `${STATUS_ZH[c.status] || c.status} · 开始于 ${new Date(c.started_at).toLocaleTimeString("zh-CN", { hour12: false })}` +
    ` · ${c.turns} 轮 · 策略 ${c.policy_version}` + (c.model_version ? ` · 模型 ${c.model_version}` : " · 仅规则");
  const b = $("live-banner");
  const icon = { block: "✕", flag: "!", allow: "✓" }[c.decision];
  b.className = "banner banner-" + c.decision;
  b.dataset.decision = c.decision;
  b.textContent = `${icon} 本通电话目前：${ACTION_ZH[c.decision]}。告警 ${c.alerts.length} 条，待确认 ${c.open_alerts} 条。`;
  renderAlerts(c);
  renderTranscript(c);
}

async function refresh() {
  if (!active || !getKey()) return;
  try {
    const { calls } = await call("v1/calls");
    if (!selected || !calls.some((c) => c.call_id === selected)) {
      const first = calls.find((c) => c.status !== "ended") || calls[0];
      selected = first ? first.call_id : null;
    }
    renderCalls(calls);
    if (!selected) { $("live-detail").hidden = true; showError(""); return; }
    const c = await call(`v1/calls/${encodeURIComponent(selected)}`);
    const version = `${c.call_id}:${c.events}:${c.open_alerts}:${c.partial ? c.partial.text : ""}`;
    if (version !== shownVersion) {
      renderCall(c);
      shownVersion = version;
    }
    showError("");
  } catch (err) {
    showError(describe(err));
  }
}

function schedule() {
  clearTimeout(timer);
  timer = null;
  if (active && document.visibilityState === "visible") {
    timer = setTimeout(async () => { await refresh(); schedule(); }, POLL_MS);
  }
}

/** Called by the tabs: the view asks the service only while it is open. */
export function setLiveActive(on) {
  active = on;
  if (on) refresh();
  schedule();
}

export function initLive() {
  document.addEventListener("visibilitychange", schedule);
  window.addEventListener("nlp-guard-key", () => { shownVersion = ""; if (active) refresh(); });
}
