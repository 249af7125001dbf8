// Entry point: the key form, the tabs, and the two tools.
import { describe, getKey, maskKey, setKey } from "./api.js";
import { checkNow, initDraft } from "./draft.js";
import { loadPolicy, policyInfo } from "./policy.js";
import { initLive, setLiveActive } from "./live.js";
import { initTranscript } from "./transcript.js";

const $ = (id) => document.getElementById(id);

function keyStatus(msg, isError = false) {
  const s = $("key-status");
  s.textContent = msg;
  s.classList.toggle("error", isError);
  s.dataset.state = isError ? "error" : "ok";
}

async function verifyKey(fromForm) {
  const key = getKey();
  if (!key) { keyStatus("请先输入 API 密钥（仅保存在本标签页的会话中，关闭标签页即清除）。"); return; }
  keyStatus("正在验证密钥…");
  try {
    await loadPolicy();
    keyStatus(`已保存密钥 ${maskKey(key)}（仅本标签页会话有效）· 策略：${policyInfo.name} ${policyInfo.version}`);
    if (fromForm && $("draft").value.trim()) checkNow();
  } catch (err) {
    if (err.status === 401) setKey("");   // a wrong key is not kept
    keyStatus(describe(err), true);
  }
}

function initKey() {
  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("api-key").value.trim();
    $("api-key").value = "";
    if (!key) { keyStatus("请输入 API 密钥。", true); $("api-key").focus(); return; }
    setKey(key);
    verifyKey(true);
  });
  $("key-clear").addEventListener("click", () => {
    setKey("");
    $("api-key").value = "";
    keyStatus("已清除密钥。请重新输入 API 密钥。");
    $("api-key").focus();
  });
  if (getKey()) verifyKey(false);
}

function initTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab, focus) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    setLiveActive(tab.id === "tab-live");
    if (focus) tab.focus();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab, false));
    tab.addEventListener("keydown", (ev) => {
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
      if (to === undefined) return;
      ev.preventDefault();
      select(tabs[(to + tabs.length) % tabs.length], true);
    });
  });
}

initKey();
initTabs();
initDraft();
initTranscript();
initLive();
