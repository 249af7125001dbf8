"""The web workbench in a real browser: Debian's chromium (Playwright) against a real uvicorn."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.timeout(300)

THREAT = "你再不还钱就等着瞧，我知道你住哪"
DEBT_FACT = "您好，请转告张三，他在某某平台的借款已逾期，请尽快还款。"
TRANSCRIPT_TXT = ("坐席：您好，这里是某某公司，请问是张三先生吗？\n"
                  "客户：是我。我失业了，实在还不上，我不想活了\n"
                  "坐席:你再不还钱就等着瞧，我知道你住哪\n"
                  "客户:我要投诉你们\n")
TURNS = [{"speaker": "agent", "text": "您好，这里是某某公司，请问是张三先生吗？"},
         {"speaker": "customer", "text": "是我。我失业了，实在还不上，我不想活了"},
         {"speaker": "agent", "text": "你再不还钱就等着瞧，我知道你住哪"},
         {"speaker": "customer", "text": "我要投诉你们"}]


def enter_key(page, key: str, ok: bool = True) -> None:
    page.fill("#api-key", key)
    page.press("#api-key", "Enter")
    if ok:
        expect(page.locator("#key-status")).to_contain_text("已保存密钥")


def banner(page):
    return page.locator("#draft-banner")


def marks(page) -> list[str]:
    return page.locator("#draft-backdrop mark").all_inner_texts()


# -- the page itself ---------------------------------------------------------------

def test_page_is_self_contained_with_csp(server):
    base = server["base"]
    r = httpx.get(base + "/", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    sources = [r.text] + [httpx.get(f"{base}/static/{f}", timeout=10).text
                          for f in ("app.js", "api.js", "draft.js", "transcript.js", "policy.js", "text.js", "app.css")]
    for src in sources:
        assert "http://" not in src and "https://" not in src and "@import" not in src and "localStorage" not in src
        assert server["key"] not in src
    assert "<script>" not in r.text and " style=" not in r.text and "onclick" not in r.text  # nothing inline
    js = httpx.get(base + "/static/app.js", timeout=10)
    assert js.headers["content-type"].startswith("text/javascript") and "'self'" in js.headers["content-security-policy"]
    assert httpx.post(base + "/", timeout=10).status_code == 405
    assert httpx.get(base + "/static/nope.js", timeout=10).json()["error"]["code"] == "not_found"
    assert "/" not in httpx.get(base + "/openapi.json", timeout=10).json()["paths"]


def test_key_lives_in_session_storage_only(page, server):
    enter_key(page, server["key"])
    assert page.input_value("#api-key") == ""
    assert page.evaluate("sessionStorage.getItem('nlp_guard.api_key')") == server["key"]
    assert page.evaluate("localStorage.length") == 0
    assert server["key"] not in page.content()
    # a reload in the same tab keeps it; a new tab (context) does not have it
    page.reload()
    expect(page.locator("#key-status")).to_contain_text("已保存密钥")
    page.click("#key-clear")
    assert page.evaluate("sessionStorage.getItem('nlp_guard.api_key')") is None


# -- draft checker -------------------------------------------------------------------

def test_threat_blocks_with_highlight_then_suggestion_allows(page, server, shot):
    checks: list[str] = []
    page.on("request", lambda r: checks.append(r.post_data or "") if r.url.endswith("/v1/check") else None)
    enter_key(page, server["key"])
    page.click("#draft")
    page.keyboard.type(THREAT, delay=25)
    expect(banner(page)).to_have_attribute("data-decision", "block")
    expect(banner(page)).to_contain_text("拦截")
    assert sorted(marks(page)) == sorted(["等着瞧", "知道你住哪"])
    assert len(checks) <= 3, f"debounce failed: {len(checks)} checks for one typed sentence"
    assert json.loads(checks[-1])["text"] == THREAT
    chips = page.locator("#draft-violations")
    expect(chips).to_contain_text("隐性威胁")
    expect(chips).to_contain_text("上门骚扰、跟踪、蹲守")
    expect(chips).to_contain_text("《刑法》第二百九十三条之一 催收非法债务罪")
    rewrite = page.inner_text("#draft-rewrite")
    assert rewrite and "等着瞧" not in rewrite
    # the highlight sits on the typed characters: the mirror wraps exactly like the textarea
    box_ta = page.locator("#draft").bounding_box()
    box_mark = page.locator("#draft-backdrop mark").first.bounding_box()
    assert box_ta["x"] <= box_mark["x"] and box_mark["y"] + box_mark["height"] <= box_ta["y"] + box_ta["height"]
    shot(page, "draft_block")

    page.focus("#apply-rewrite")          # keyboard only
    page.keyboard.press("Enter")
    expect(banner(page)).to_have_attribute("data-decision", "allow")
    expect(banner(page)).to_contain_text("通过")
    assert page.input_value("#draft") == rewrite
    assert marks(page) == []
    expect(page.locator("#draft-rewrite-wrap")).to_be_hidden()
    expect(page.locator("#draft")).to_be_focused()
    shot(page, "draft_allow_after_rewrite")

    page.click("#undo-rewrite")
    expect(banner(page)).to_have_attribute("data-decision", "block")
    assert page.input_value("#draft") == THREAT


def test_offsets_survive_astral_characters(page, server):
    enter_key(page, server["key"])
    page.fill("#draft", "😀😀你再不还钱就等着瞧𠀀")
    expect(banner(page)).to_have_attribute("data-decision", "block")
    assert marks(page) == ["等着瞧"]


def test_emergency_contact_reveal_blocks(page, server, shot):
    enter_key(page, server["key"])
    page.fill("#draft", DEBT_FACT)
    expect(banner(page)).to_have_attribute("data-decision", "allow")
    page.select_option("#recipient", "emergency_contact")
    expect(banner(page)).to_have_attribute("data-decision", "block")
    expect(page.locator("#draft-violations")).to_contain_text("privacy.third_party_disclosure")
    expect(page.locator("#draft-violations")).to_contain_text("《个人信息保护法》第十条")
    assert {"借款", "逾期", "还款"} <= set(marks(page))
    expect(page.locator("#draft-rewrite")).to_contain_text("机主")
    shot(page, "draft_emergency_contact_block")
    page.select_option("#recipient", "guarantor")
    expect(banner(page)).to_have_attribute("data-decision", "allow")
    page.select_option("#channel", "wechat")   # the channel is sent too
    expect(banner(page)).to_have_attribute("data-decision", "allow")


def test_contact_gate_notice_is_worded_in_chinese(page, server):
    """The server's verdict carries bare facts; the page words each rule itself (no English detail)."""
    gate = {"decision": "block", "checked": ["time_window", "connected_calls"], "skipped": [], "recorded": False,
            "local_time": "2026-01-05T22:10+08:00", "timezone": "Asia/Shanghai",
            "violations": [{"rule": "time_window", "message": "22:10 in Asia/Shanghai is outside ...",
                            "observed": "22:10 Asia/Shanghai", "limit": "08:00–21:00"},
                           {"rule": "connected_calls", "message": "this debtor already had 3 connected calls ...",
                            "observed": "3", "limit": "3"}]}

    def late_evening(route) -> None:  # the real server's answer, with the gate verdict of a 22:10 send
        body = route.fetch().json()
        route.fulfill(json={**body, "contact_policy": gate})

    page.route("**/v1/check", late_evening)
    enter_key(page, server["key"])
    page.fill("#draft", "您好，请于本月底前还款。")
    notice = page.locator("#draft-gate")
    expect(notice).to_contain_text("当前时间 22:10 Asia/Shanghai 不在允许的联系时段 08:00–21:00 内")
    expect(notice).to_contain_text("该债务人今日已接通 3 次，上限为每日 3 次")
    assert "outside" not in notice.inner_text() and "connected calls" not in notice.inner_text()


# -- transcript viewer -----------------------------------------------------------------

def test_transcript_upload_flags_turns_and_downloads_jsonl(page, server, shot, tmp_path: Path):
    enter_key(page, server["key"])
    page.click("#tab-transcript")
    f = tmp_path / "call.txt"
    f.write_text(TRANSCRIPT_TXT, encoding="utf-8")
    page.set_input_files("#transcript-file", str(f))
    turns = page.locator("#turns > li")
    expect(turns).to_have_count(4)
    expect(page.locator("#transcript-banner")).to_have_attribute("data-decision", "block")
    expect(page.locator(".turn-flagged")).to_have_count(3)
    expect(page.locator("#transcript-escalate")).to_contain_text("需立即升级")
    expect(page.locator("#transcript-escalate")).to_contain_text("第 2 轮")
    assert page.locator("#turn-2 mark.v-block").all_inner_texts() == ["等着瞧", "知道你住哪"]
    assert page.locator("#turn-1 mark.sig-escalate").all_inner_texts() == ["不想活"]
    assert "投诉" in page.locator("#turn-3 mark.sig").all_inner_texts()
    expect(page.locator("#turn-2")).to_contain_text("《刑法》第二百九十三条之一")
    expect(page.locator("#turn-1 .badge-escalate")).to_contain_text("自伤风险")

    page.click("#next-flagged")
    expect(page.locator("#turn-1")).to_be_focused()
    page.click("#next-flagged")
    expect(page.locator("#turn-2")).to_be_focused()
    page.click("#prev-flagged")
    expect(page.locator("#turn-1")).to_be_focused()
    page.click("#prev-flagged")
    expect(page.locator("#turn-3")).to_be_focused()   # wraps around
    expect(page.locator("#flagged-pos")).to_contain_text("第 3 / 3 处")
    page.click("#next-flagged")
    shot(page, "transcript_flagged")

    with page.expect_download() as dl:
        page.click("#download-jsonl")
    lines = [json.loads(x) for x in Path(dl.value.path()).read_text(encoding="utf-8").splitlines()]
    assert dl.value.suggested_filename.endswith(".jsonl")
    assert lines[0]["kind"] == "summary" and lines[0]["decision"] == "block" and lines[0]["escalate"] is True
    assert [ln["text"] for ln in lines[1:]] == [t["text"] for t in TURNS]
    assert [ln["decision"] for ln in lines[1:]] == ["allow", "allow", "block", "allow"]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "chinese-speakers"])
def test_transcript_paste_formats(page, server, fmt):
    if fmt == "jsonl":
        raw = "\n".join(json.dumps(t, ensure_ascii=False) for t in TURNS)
    elif fmt == "json":
        raw = json.dumps({"turns": TURNS}, ensure_ascii=False, indent=2)
    else:
        raw = "\n".join(json.dumps({"speaker": "坐席" if t["speaker"] == "agent" else "客户", "text": t["text"]},
                                   ensure_ascii=False) for t in TURNS)
    enter_key(page, server["key"])
    page.click("#tab-transcript")
    page.fill("#transcript-input", raw)
    page.click("#transcript-scan")
    expect(page.locator("#turns > li")).to_have_count(4)
    expect(page.locator(".turn-flagged")).to_have_count(3)


def test_transcript_parse_error_names_the_line(page, server):
    enter_key(page, server["key"])
    page.click("#tab-transcript")
    page.fill("#transcript-input", "你好\n坐席：您好")
    page.click("#transcript-scan")
    expect(page.locator("#transcript-error")).to_contain_text("第 1 行没有以「坐席：」或「客户：」开头")


# -- errors ---------------------------------------------------------------------------------

def test_wrong_key_gets_a_clear_message(page, server, shot):
    page.fill("#draft", THREAT)
    expect(page.locator("#draft-error")).to_contain_text("请先在页面顶部输入 API 密钥")
    enter_key(page, "ngk_000000000000_wrong", ok=False)
    status = page.locator("#key-status")
    expect(status).to_contain_text("API 密钥错误")
    expect(status).to_contain_text("401")
    assert page.evaluate("sessionStorage.getItem('nlp_guard.api_key')") is None   # a wrong key is not kept
    # a key that goes bad mid-session: the check itself says so
    page.evaluate("sessionStorage.setItem('nlp_guard.api_key', 'ngk_000000000000_revoked')")
    page.fill("#draft", THREAT + "。")
    expect(page.locator("#draft-error")).to_contain_text("API 密钥错误")
    expect(banner(page)).to_have_attribute("data-decision", "error")
    shot(page, "wrong_key")


def test_413_422_403_and_network_errors_are_explained(page, server, shot):
    enter_key(page, server["key"])
    page.fill("#draft", "催" * 5001)
    err = page.locator("#draft-error")
    expect(err).to_contain_text("内容过长")
    expect(err).to_contain_text("413")
    expect(err).to_contain_text("5000")
    # the editor stops growing and scrolls; the mirror scrolls with it
    assert page.evaluate("document.getElementById('draft').scrollHeight > document.getElementById('draft').clientHeight")
    page.evaluate("const t = document.getElementById('draft'); t.scrollTop = t.scrollHeight")
    page.wait_for_function("""() => { const t = document.getElementById('draft'), b = document.getElementById('draft-backdrop');
                                      return t.scrollTop > 0 && b.scrollTop === t.scrollTop; }""")
    shot(page, "error_413")

    page.click("#tab-transcript")
    page.fill("#transcript-input", json.dumps({"speaker": "agent", "text": "您好", "recipient": "boss"}))
    page.click("#transcript-scan")
    terr = page.locator("#transcript-error")
    expect(terr).to_contain_text("422")
    expect(terr).to_contain_text("第 1 轮的收件人（turns[0].recipient）")

    page.click("#tab-draft")
    page.allowed_console.append("net::ERR_FAILED")
    page.route("**/v1/check", lambda route: route.abort())
    page.fill("#draft", "您好，请尽快还款。")
    expect(err).to_contain_text("无法连接到服务")
    page.unroute("**/v1/check")

    page.evaluate(f"sessionStorage.setItem('nlp_guard.api_key', {json.dumps(server['scan_only'])})")
    page.fill("#draft", "您好，请尽快还款！")
    expect(err).to_contain_text("403")


def test_keyboard_focus_order_and_tabs(page, server):
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
    assert order == ["skip", "api-key", "key-save", "key-clear", "tab-draft", "recipient", "channel", "draft"], order
    page.focus("#tab-draft")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-transcript")).to_be_focused()
    expect(page.locator("#panel-transcript")).to_be_visible()
    expect(page.locator("#panel-draft")).to_be_hidden()
    # every control is a real control with a label
    unlabeled = page.evaluate("""[...document.querySelectorAll('input, select, textarea')]
        .filter(e => !(e.labels && e.labels.length)).map(e => e.id)""")
    assert unlabeled == []


def test_idle_page_sends_nothing(page, server):
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    enter_key(page, server["key"])
    page.fill("#draft", "您好，请尽快还款。")
    expect(banner(page)).to_have_attribute("data-decision", "allow")
    seen.clear()
    page.wait_for_timeout(3000)
    assert seen == []
