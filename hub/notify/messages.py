"""The words of a notification (pure): Chinese first, English second.

A :class:`Message` has a unique ``key`` — ``card:<id>:raised``, ``card:<id>:supervise:<action id>``,
``report:<month>`` — so the same event never becomes two messages, whoever enqueues it twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LEVEL_ZH = {"reminder": "预警", "yellow": "黄牌", "red": "红牌"}
LEVEL_EN = {"reminder": "Reminder", "yellow": "Yellow card", "red": "Red card"}
APP_ZH = "效能监察"


@dataclass(frozen=True)
class Message:
    """One notification, before it is split by channel and recipient."""

    key: str
    kind: str  # card.raised | card.escalated | card.supervised | report.monthly
    subject: str
    body: str
    short: str  # the SMS text
    link: str = ""  # a path in the UI (``/cards/…``); e-mails prefix ``base_url``
    level: str | None = None
    dept_code: str | None = None
    card_id: str | None = None
    attachments: Sequence[str] = field(default_factory=tuple)  # file paths


def _dept(card: Mapping[str, Any]) -> str:
    return str(card.get("dept_name") or card.get("dept_code") or "")


def _case_line(card: Mapping[str, Any]) -> tuple[str, str]:
    case_id = card.get("case_id")
    if not case_id:
        return "", ""
    return f"，办件 {case_id}", f", case {case_id}"


def card_message(card: Mapping[str, Any], kind: str, *, action_id: int | None = None, note: str = "",
                 actor: str = "") -> Message:
    """The message for a card row (``cards`` columns plus ``dept_name``) and what happened to it:
    ``raised`` (a new card), ``escalated`` (a red card escalating a yellow one) or ``supervised``
    (a 督办 notice the monitoring room sent, ``action_id`` from ``card_actions``)."""
    level = str(card.get("level") or "")
    rule, title, dept = str(card.get("rule") or ""), str(card.get("title") or ""), _dept(card)
    lzh, len_ = LEVEL_ZH.get(level, level), LEVEL_EN.get(level, level)
    deadline = card.get("deadline")
    case_zh, case_en = _case_line(card)
    card_id = str(card["card_id"])
    link = f"/cards/{card_id}"
    due_zh = f"督办期限：{deadline}，请在期限前整改并在系统中回复。" if deadline else "请及时核查处理。"
    due_en = f"督办 deadline: {deadline}; put it right and answer in the system before then." if deadline else \
        "Please check and act on it."
    if kind == "raised":
        head_zh, head_en = f"{lzh} {rule}", f"{len_} {rule}"
        key = f"card:{card_id}:raised"
        lead_zh = f"{dept} 收到{lzh}（{rule}）：{title}{case_zh}。"
        lead_en = f"{dept} received a {len_.lower()} ({rule}){case_en}."
    elif kind == "escalated":
        head_zh, head_en = f"升级为红牌 {rule}", f"escalated to a red card {rule}"
        key = f"card:{card_id}:escalated"
        lead_zh = f"{dept} 的黄牌督办逾期未整改，已升级为红牌（{rule}）：{title}{case_zh}。"
        lead_en = (f"A yellow card of {dept} was not put right by its 督办 deadline "
                   f"and is now a red card ({rule}){case_en}.")
    elif kind == "supervised":
        if action_id is None:
            raise ValueError("a 督办 notice needs the id of its card action")
        head_zh, head_en = f"督办通知 {lzh} {rule}", f"supervision notice ({len_.lower()} {rule})"
        key = f"card:{card_id}:supervise:{action_id}"
        lead_zh = f"监控室对 {dept} 的{lzh}（{rule}）发出督办：{title}{case_zh}。"
        lead_en = f"The monitoring room sent {dept} a supervision notice (督办) on a {len_.lower()} ({rule}){case_en}."
        if note:
            lead_zh += f"督办意见：{note.rstrip('。')}。"
            lead_en += f" Note: {note}"
    else:
        raise ValueError(f"unknown card notification kind {kind!r}")
    subject = f"【{APP_ZH}】{head_zh}：{title} / {head_en}"
    body = "\n".join([lead_zh, due_zh, "", lead_en, due_en, ""])
    short = f"【{APP_ZH}】{lead_zh}{due_zh if deadline else ''}"
    return Message(key=key, kind=f"card.{kind}", subject=subject, body=body, short=short, link=link,
                   level=level or None, dept_code=card.get("dept_code"), card_id=card_id)  # fmt: skip


def report_message(month: str, totals: Mapping[str, Any], attachments: Sequence[str],
                   city: str | None = None) -> Message:
    """The monthly report's message (the files are attached to the e-mail)."""
    year, mon = month.split("-")
    where = city or "全市"
    figures_zh = "，".join(f"{label} {totals.get(k, 0)}" for k, label in
                          (("accepted", "受理"), ("completed", "办结"), ("overdue", "超期")))
    figures_en = ", ".join(f"{label} {totals.get(k, 0)}" for k, label in
                          (("accepted", "accepted"), ("completed", "completed"), ("overdue", "overdue")))
    subject = f"【{APP_ZH}】{where}{year}年{int(mon)}月政务服务效能监察月报 / Monthly report {month}"
    body = "\n".join([
        f"各位领导：{where}{year}年{int(mon)}月效能监察月报已生成，见附件（PDF 与 Excel）。",
        f"本月{figures_zh}。", "",
        f"The monthly report for {month} is attached (PDF and Excel): {figures_en}.", "",
    ])
    short = f"【{APP_ZH}】{year}年{int(mon)}月月报已发送至邮箱与系统收件箱：{figures_zh}。"
    return Message(key=f"report:{month}", kind="report.monthly", subject=subject, body=body, short=short,
                   link=f"/reports?month={month}", attachments=tuple(attachments))  # fmt: skip


def sms_text(message: Message, limit: int, link: str = "") -> str:
    """The SMS of ``message``, cut to ``limit`` characters (the link kept whole when it fits)."""
    tail = f" {link}" if link else ""
    text = message.short
    if len(text) + len(tail) <= limit:
        return text + tail
    room = limit - len(tail) - 1
    if room < 10:
        return text[: limit - 1] + "…"
    return text[:room] + "…" + tail
