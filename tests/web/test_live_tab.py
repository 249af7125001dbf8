"""The 实时监听 tab in Debian's chromium: a call replayed at real speed through the live stream
shows its transcript, a block and an escalate alert with citations, and an acknowledgement."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

pytest.importorskip("websockets", reason="the live replay needs the 'live' extra")
from nlp_guard.live import Utterance, replay  # noqa: E402

pytestmark = pytest.mark.timeout(300)
TURNS = [("agent", "您好，这里是某某公司，请问是张三先生吗？"),
         ("customer", "是我。我失业了，实在还不上，我不想活了"),
         ("agent", "你再不还钱就等着瞧，我知道你住哪"),
         ("customer", "我要投诉你们"),
         ("agent", "对不起，刚才是我的态度不对，请您放心，我们不会上门，您可以和我们协商分期还款的方案。")]


def utterances() -> list[Utterance]:
    out, clock = [], 0
    for i, (speaker, text) in enumerate(TURNS, 1):
        start = clock + 400
        out.append(Utterance(i, speaker, text, start, start + 220 * len(text)))
        clock = out[-1].end_ms
    return out


def enter_key(page, key: str) -> None:
    page.fill("#api-key", key)
    page.press("#api-key", "Enter")
    expect(page.locator("#key-status")).to_contain_text("已保存密钥")


def test_live_tab_shows_a_replayed_call_with_alerts_and_acknowledges(page, server, shot):
    enter_key(page, server["key"])
    page.click("#tab-live")
    expect(page.locator("#live-empty")).to_be_visible()
    cid = f"web-{time.time_ns()}"
    box: dict[str, Any] = {}
    ws_url = server["base"].replace("http://", "ws://")
    player = threading.Thread(target=lambda: box.update(res=asyncio.run(
        replay(ws_url, utterances(), cid, key=server["key"], speed=1.0))), daemon=True)
    player.start()
    try:
        expect(page.locator(f'#live-calls [data-call-id="{cid}"]')).to_be_visible(timeout=15_000)
        block = page.locator('#live-alerts li[data-kind="block"]')
        escalate = page.locator('#live-alerts li[data-kind="escalate"]')
        expect(block).to_have_count(1, timeout=30_000)
        expect(escalate.first).to_be_visible()
        expect(page.locator("#live-banner")).to_have_attribute("data-decision", "block")
        expect(block).to_contain_text("《刑法》第二百九十三条之一 催收非法债务罪")
        expect(block).to_contain_text("等着瞧")
        expect(escalate.first).to_contain_text("自伤风险「不想活」")
        assert page.locator("#live-turn-2 mark.v-block").all_inner_texts() == ["等着瞧", "知道你住哪"]
        assert page.locator("#live-turn-1 mark.sig-escalate").all_inner_texts() == ["不想活"]
        assert box.get("res") is None, "the call ended before the screenshot: it must be taken during the call"
        expect(page.locator("#live-call-status")).to_contain_text("通话中")
        shot(page, "live_block_escalate")

        block.locator("button.alert-ack").click()
        expect(block).to_contain_text("已确认")
        expect(block.locator("button.alert-ack")).to_have_count(0)
    finally:
        player.join(60)
    res = box["res"]
    assert res.result is not None and res.result["decision"] == "block" and res.result["escalate"] is True
    expect(page.locator("#live-call-status")).to_contain_text("已结束", timeout=10_000)
    expect(page.locator("#live-transcript > li")).to_have_count(len(TURNS))
    detail = httpx.get(f"{server['base']}/v1/calls/{cid}", headers={"Authorization": f"Bearer {server['key']}"},
                       timeout=10).json()
    acked = [a for a in detail["alerts"] if a["acked"]]
    assert [a["kind"] for a in acked] == ["block"] and acked[0]["acked"]["audit_seq"] > 0
    assert acked[0]["acked"]["audit_seq"] != res.result["audit_seq"]

    # the view asks only while it is open
    page.click("#tab-draft")
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.wait_for_timeout(2500)
    assert seen == []


def test_live_tab_is_self_contained(server):
    js = httpx.get(server["base"] + "/static/live.js", timeout=10)
    assert js.status_code == 200 and "http://" not in js.text and "https://" not in js.text
    assert "localStorage" not in js.text and "'self'" in js.headers["content-security-policy"]
