// The tenant's policy names (fetched once per key), and the violation chips.
import { call } from "./api.js";
import { ACTION_ZH, el } from "./text.js";

const names = { sub: {}, cat: {} };
export const policyInfo = { name: "", version: "" };

/** GET v1/policy?full=true: subcategory and category names in Chinese. Throws ApiError (e.g. 401). */
export async function loadPolicy() {
  const p = await call("v1/policy?full=true");
  names.sub = {};
  names.cat = {};
  for (const [code, c] of Object.entries(p.categories || {})) names.cat[code] = c.name;
  const cats = (p.pack && p.pack.categories) || {};
  for (const c of Object.values(cats)) {
    for (const [code, s] of Object.entries(c.subcategories || {})) names.sub[code] = s.name;
  }
  policyInfo.name = p.name || "";
  policyInfo.version = p.version || "";
  return p;
}

export function subName(code) { return names.sub[code] || code; }
export function catName(code) { return names.cat[code] || code; }

/** One chip per violation: subcategory name and code, verdict, evidence, every citation. */
export function renderViolations(ul, violations) {
  ul.replaceChildren();
  for (const v of violations) {
    const li = el("li", "chip chip-" + v.action);
    const head = el("div", "chip-head");
    head.append(el("span", "chip-action", ACTION_ZH[v.action] || v.action));
    head.append(el("strong", "chip-name", subName(v.subcategory)));
    head.append(el("code", "chip-code", v.subcategory));
    head.append(el("span", "chip-cat", catName(v.category)));
    li.append(head);
    const quotes = (v.evidence || []).map((e) => "「" + e.text + "」").join("、");
    if (quotes) li.append(el("p", "chip-evidence", "问题词句：" + quotes));
    // a violation completed across transcript turns also quotes the earlier turns it was judged with
    const context = (v.context_evidence || []).map((e) => `第 ${e.turn + 1} 轮「${e.text}」`).join("、");
    if (context) li.append(el("p", "chip-evidence chip-context", "结合前文：" + context));
    if ((v.citations || []).length) {
      const cites = el("ul", "chip-cites");
      cites.setAttribute("aria-label", "依据的法规");
      for (const c of v.citations) cites.append(el("li", "", c));
      li.append(el("p", "chip-cite-h", "依据："), cites);
    }
    ul.append(li);
  }
}
