// The API client: the key (sessionStorage only), requests, and errors in plain Chinese.
const KEY_NAME = "nlp_guard.api_key";

export function getKey() {
  try { return sessionStorage.getItem(KEY_NAME) || ""; } catch { return ""; }
}

export function setKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_NAME, key); else sessionStorage.removeItem(KEY_NAME);
  } catch { /* storage disabled: the key is simply not kept */ }
  window.dispatchEvent(new Event("nlp-guard-key"));
}

/** "ngk_d4d31e03d575_secret" -> "ngk_d4d31e03d575_…" (the key id is not secret; the rest is never shown). */
export function maskKey(key) {
  const m = /^(ngk_[^_]+_)/.exec(key);
  return m ? m[1] + "…" : key.slice(0, 4) + "…";
}

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

/** POST ``body`` (or GET when body is undefined) to a path relative to the page; JSON back or ApiError. */
export async function call(path, body) {
  const key = getKey();
  if (!key) throw new ApiError(0, "no_key", "no key");
  const init = {
    method: body === undefined ? "GET" : "POST",
    headers: { "Authorization": "Bearer " + key, "Accept": "application/json" },
    cache: "no-store",
    credentials: "omit",
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network", String(e && e.message || e));
  }
  let data = null;
  try { data = await resp.json(); } catch { /* not JSON: described by status */ }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(resp.status, err.code || "http_" + resp.status,
                       err.message || (data && data.detail) || resp.statusText || "", err.field);
  }
  return data;
}

const FIELD_NAMES = { text: "草稿内容", recipient: "收件人", channel: "渠道", speaker: "说话人", turns: "通话记录" };

/** "turns[3].text" -> "第 4 轮的说话内容（turns[3].text）". */
export function fieldLabel(field) {
  if (!field) return "请求";
  const m = /^turns\[(\d+)\]\.(\w+)$/.exec(field);
  if (m) return `第 ${Number(m[1]) + 1} 轮的${FIELD_NAMES[m[2]] || m[2]}（${field}）`;
  return FIELD_NAMES[field] ? `${FIELD_NAMES[field]}（${field}）` : field;
}

/** One clear sentence (or two) for the person at the screen. */
export function describe(err) {
  if (!(err instanceof ApiError)) return "页面出错：" + String(err && err.message || err);
  const detail = err.message ? `服务返回：${err.message}` : "";
  switch (err.status) {
    case 0:
      if (err.code === "no_key") return "请先在页面顶部输入 API 密钥并保存。";
      return "无法连接到服务（网络错误）。请检查网络或确认服务正在运行，然后重试。";
    case 401: return "API 密钥错误：密钥无效或已被吊销（401）。请在页面顶部重新输入正确的密钥。";
    case 403: return `此密钥没有执行该操作的权限（403）。${detail}`;
    case 413: return `内容过长，超出服务的上限（413）。请删减后重试。${detail}`;
    case 422: return `字段「${fieldLabel(err.field)}」无效（422）。${detail}`;
    case 400: case 415: return `请求格式不被接受（${err.status}）。${detail}`;
    case 429: return "服务繁忙（429），请稍后重试。";
    case 503: return `服务暂不可用（503），请稍后重试。${detail}`;
    default: return `请求失败（${err.status}）。${detail}`;
  }
}
