// The draft checker: debounced live checks, in-place highlights, banner, chips and the rewrite.
import { ApiError, call, describe, getKey } from "./api.js";
import { renderViolations, subName } from "./policy.js";
import { renderMarked, toJsSpans } from "./text.js";

const DEBOUNCE_MS = 400;
const $ = (id) => document.getElementById(id);

const BANNERS = {
  block: ["✕", "拦截：此草稿不可发送。"],
  flag: ["!", "需复核：建议修改后再发送。"],
  allow: ["✓", "通过：未发现违规内容，可以发送。"],
  idle: ["…", "输入草稿后自动检查。"],
  pending: ["…", "草稿已修改，等待检查…"],
  error: ["?", "未能完成检查，见上方提示。"],
};
const STOP_REASONS = { stop: "停催", opt_out: "本人拒绝联系" };
/** Each gate rule in Chinese, from the verdict's bare facts (observed, limit). */
const GATE_RULES = {
  stop_list: (v) => `该债务人已在停催名单中（${STOP_REASONS[v.observed] || v.observed || "停催"}）`,
  time_window: (v) => `当前时间 ${v.observed} 不在允许的联系时段 ${v.limit} 内`,
  min_interval: (v) => `距上次联系仅 ${v.observed} 分钟，规则要求至少间隔 ${v.limit} 分钟`,
  attempts_per_number: (v) => `该号码今日已联系 ${v.observed} 次，上限为每日 ${v.limit} 次`,
  connected_calls: (v) => `该债务人今日已接通 ${v.observed} 次，上限为每日 ${v.limit} 次`,
};
/** A gate verdict's broken rules, worded in Chinese and joined. */
export function gateReasons(gate) {
  return gate.violations.map((v) => (GATE_RULES[v.rule] ? GATE_RULES[v.rule](v) : `${v.rule}（${v.message}）`)).join("；");
}
const PII_ZH = { phone: "手机号码", id_card: "身份证号", bank_card: "银行卡号", email: "电子邮箱", address: "地址",
                 person: "姓名", plate: "车牌号", uscc: "统一社会信用代码", organization: "机构名称" };

let timer = null;
let inflight = false;
let pending = false;
let undoText = null;

function current() {
  return { text: $("draft").value, recipient: $("recipient").value, channel: $("channel").value };
}

function same(a, b) { return a.text === b.text && a.recipient === b.recipient && a.channel === b.channel; }

function setBanner(kind, extra = "") {
  const b = $("draft-banner");
  const [icon, text] = BANNERS[kind];
  b.className = "banner banner-" + kind;
  b.dataset.decision = kind;
  b.querySelector(".banner-icon").textContent = icon;
  b.querySelector(".banner-text").textContent = text + extra;
}

function showError(msg) {
  const e = $("draft-error");
  e.textContent = msg;
  e.hidden = !msg;
}

function fit() {
  const ta = $("draft");
  ta.style.height = "auto";
  ta.style.height = ta.scrollHeight + 2 + "px";   // CSS max-height caps it; then the textarea scrolls
  $("draft-backdrop").scrollTop = ta.scrollTop;
}

function paint(text, spans) {
  // a trailing newline needs one more character, or the mirror is a line short
  renderMarked($("draft-backdrop"), text, spans, text.endsWith("\n") ? " " : "");
  fit();
}

function clearResult() {
  $("draft-violations-wrap").hidden = true;
  $("draft-rewrite-wrap").hidden = true;
  $("draft-gate").hidden = true;
  $("draft-pii").hidden = true;
}

function render(text, res) {
  const spans = [];
  for (const v of res.violations) {
    for (const e of v.evidence) {
      spans.push({ start: e.start, end: e.end, cls: v.action === "block" ? "v-block" : "v-flag",
                   title: subName(v.subcategory) });
    }
  }
  for (const p of res.pii || []) spans.push({ start: p.start, end: p.end, cls: "pii", title: PII_ZH[p.type] || p.type });
  paint(text, toJsSpans(text, spans));

  const n = res.violations.length;
  setBanner(res.decision, n ? ` 共 ${n} 项问题，已在草稿中标出。` : "");

  $("draft-violations-wrap").hidden = n === 0;
  renderViolations($("draft-violations"), res.violations);

  const rw = res.decision !== "allow" && res.rewrite;
  $("draft-rewrite-wrap").hidden = !rw;
  $("draft-rewrite").textContent = rw || "";

  const gate = res.contact_policy;
  const g = $("draft-gate");
  if (gate && gate.decision === "block") {
    g.textContent = "联系规则不允许现在发送：" + gateReasons(gate);
    g.hidden = false;
  } else {
    g.hidden = true;
  }

  const pii = res.pii || [];
  $("draft-pii").hidden = pii.length === 0;
  if (pii.length) {
    const counts = {};
    for (const p of pii) counts[PII_ZH[p.type] || p.type] = (counts[PII_ZH[p.type] || p.type] || 0) + 1;
    $("draft-pii").textContent = "含个人信息（虚线标出）：" +
      Object.entries(counts).map(([k, c]) => `${k} ×${c}`).join("、") + "。请确认收件人有权知悉。";
  }
}

/** Check the draft now, unless a check is in flight (then once more when it returns). */
export async function checkNow() {
  clearTimeout(timer);
  timer = null;
  if (inflight) { pending = true; return; }
  const req = current();
  if (!req.text.trim()) {
    paint(req.text, []);
    clearResult();
    showError("");
    setBanner("idle");
    return;
  }
  if (!getKey()) {
    showError(describe(new ApiError(0, "no_key", "")));
    setBanner("error");
    return;
  }
  inflight = true;
  $("draft-activity").textContent = "检查中…";
  $("draft-banner").setAttribute("aria-busy", "true");
  try {
    const res = await call("v1/check", { ...req, dry_run: true, suggest: true });
    if (same(req, current())) {   // a response to an older draft is dropped
      showError("");
      render(req.text, res);
    }
  } catch (err) {
    if (same(req, current())) {
      showError(describe(err));
      paint(req.text, []);
      clearResult();
      setBanner("error");
    }
  } finally {
    inflight = false;
    $("draft-banner").removeAttribute("aria-busy");
    $("draft-activity").textContent = "";
    if (pending) { pending = false; checkNow(); }
  }
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(checkNow, DEBOUNCE_MS);
}

export function initDraft() {
  const ta = $("draft");
  ta.addEventListener("input", () => {
    paint(ta.value, []);          // old marks would sit on the wrong characters
    clearResult();
    setBanner(ta.value.trim() ? "pending" : "idle");
    $("draft-activity").textContent = ta.value.trim() ? "输入中…" : "";
    $("undo-rewrite").hidden = true;
    schedule();
  });
  ta.addEventListener("scroll", () => { $("draft-backdrop").scrollTop = ta.scrollTop; });
  for (const id of ["recipient", "channel"]) $(id).addEventListener("change", () => checkNow());
  $("apply-rewrite").addEventListener("click", () => {
    const rw = $("draft-rewrite").textContent;
    if (!rw) return;
    undoText = ta.value;
    ta.value = rw;
    paint(rw, []);
    clearResult();
    setBanner("pending");
    $("undo-rewrite").hidden = false;
    ta.focus();
    checkNow();
  });
  $("undo-rewrite").addEventListener("click", () => {
    if (undoText === null) return;
    ta.value = undoText;
    undoText = null;
    $("undo-rewrite").hidden = true;
    ta.focus();
    checkNow();
  });
  window.addEventListener("resize", fit);
  paint(ta.value, []);
  if (ta.value.trim()) checkNow();
}
