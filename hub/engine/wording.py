"""Card titles and texts in plain Chinese, from a card's structured data (DOMAIN.md §4).

People read a card on the queue, the wall, the card's and the case's page, in notifications and in
the report. What they read must say what happened in words: no internal ids (``card-…``, record
hashes), no event type names (``case.step``), no ISO timestamps (times as ``2026-11-23 14:05``),
and names rather than codes wherever the data has names (department, item, window, staff).

Everything here is pure (no I/O): the rule modules call :func:`title` with what the engine knows
when it raises a card (it becomes the stored ``message``); the web renders :func:`title` and
:func:`text` again at view time with the names the hub keeps (``sup_names``, the cases table), so
cards stored before this wording read as well. :func:`plain` tidies free text written earlier
(old messages and notes): it replaces event type names, ISO timestamps, card ids and hashes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hub.engine.localtime import LOCAL_TZ

#: Chinese names of the record types (DOMAIN.md §2).
EVENT_NAMES: Mapping[str, str] = {
    "case.accepted": "受理",
    "case.refused": "不予受理",
    "case.step": "办理环节",
    "case.supplement_requested": "补正告知",
    "case.supplement_received": "补交受理",
    "case.suspended": "特别程序开始",
    "case.resumed": "特别程序结束",
    "case.completed": "办结",
    "case.rated": "评价",
    "complaint.filed": "投诉登记",
    "complaint.accepted": "投诉受理",
    "complaint.answered": "投诉答复",
    "complaint.closed": "投诉办结",
    "disclosure.received": "信息公开申请登记",
    "disclosure.supplement_requested": "信息公开补正告知",
    "disclosure.supplement_received": "信息公开补正收到",
    "disclosure.extended": "信息公开延期答复",
    "disclosure.consult_started": "征求第三方意见开始",
    "disclosure.consult_ended": "征求第三方意见结束",
    "disclosure.answered": "信息公开答复",
    "presence.absent": "人员离岗",
    "presence.present": "人员在岗",
    "queue.long": "排队过长",
    "agent.health": "采集点状态",
    "agent.mapping_error": "采集映射错误",
    "agent.capture_gap": "采集中断",
}

#: 办结结果 codes (DOMAIN.md §2).
RESULT_NAMES: Mapping[int, str] = {
    0: "出证办结", 1: "退回办结", 2: "作废办结", 3: "删除办结", 5: "补正不来办结", 6: "准予许可", 7: "不予许可",
}
LEVEL_NAMES: Mapping[str, str] = {"reminder": "预警", "yellow": "黄牌", "red": "红牌"}
RATING_NAMES: Mapping[int, str] = {1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"}
#: Short names of the rules, as a card about a card names its rule.
RULE_NAMES: Mapping[str, str] = {
    "R1": "即将到期", "R2": "超期", "R3": "超法定时限", "R4": "违规收费", "R5": "未说明理由",
    "R6": "未一次性告知", "R7": "异常办结", "R8": "迟报", "R9": "违规延长/挂起", "R10": "离岗",
    "R11": "差评未整改",
}
SHORT_ID = 12  # case numbers longer than this are shown as 9901…1376


def event_name(event_type: str) -> str:
    """The Chinese name of a record type: ``event_name("case.suspended") == "特别程序开始"``;
    an unknown type is called a record (记录), never shown by its type name."""
    return EVENT_NAMES.get(event_type, "记录")


def when(moment: datetime | str | None) -> str:
    """A moment as people read it, in local time: ``2026-11-23 14:05`` ("" for None; text that is
    not a time is returned as it is)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return moment
        if len(moment) <= 10:  # a date alone
            return parsed.date().isoformat()
        moment = parsed
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TZ)
    return moment.strftime("%Y-%m-%d %H:%M")


def day(value: date | datetime | str | None) -> str:
    """A date as ``2026-11-23`` (a moment's local date; "" for None)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (value.astimezone(LOCAL_TZ) if value.tzinfo else value).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return when(value)[:10]


def short_case_id(case_id: str) -> str:
    """A long case number shortened to its first and last four characters (``9901…1376``)."""
    return case_id if len(case_id) <= SHORT_ID else f"{case_id[:4]}…{case_id[-4:]}"


def yuan(fen: Any) -> str:
    """Integer fen as yuan (``1250`` → ``12.50 元``)."""
    try:
        value = int(fen)
    except (TypeError, ValueError):
        return f"{fen} 分"
    return f"{value / 100:.2f} 元"


@dataclass(frozen=True, slots=True)
class Context:
    """What the hub knows around a card, beyond the card itself (all optional).

    ``item``/``dept``/``window``/``staff`` are names; ``completed_at`` is the case's completion and
    ``overdue_days`` its days past the promised due date (at completion, or so far while open; ``unit``
    G or Z); ``escalated_title`` is the title of the yellow card an R3 escalation card escalates."""

    item: str | None = None
    dept: str | None = None
    window: str | None = None
    staff: str | None = None
    completed_at: datetime | str | None = None
    overdue_days: int | None = None
    unit: str | None = None
    escalated_title: str | None = None


NO_CONTEXT = Context()


def _case_ref(case_id: str, ctx: Context) -> str:
    ref = f"办件 {short_case_id(case_id)}"
    return f"{ref}（{ctx.item}）" if ctx.item else ref


def _days(n: Any, unit: str | None) -> str:
    return f"{n} 个自然日" if unit == "Z" else f"{n} 个工作日"


def _completion(limit: str, due: str, ctx: Context, over: int | None) -> str:
    """Past the ``limit`` (承诺/法定) due date ``due``: how the case ended, or that it is still open
    (``over``: days past ``due``, when known)."""
    if ctx.completed_at:
        late = f"，超期 {_days(over, ctx.unit)}" if over else ""
        return f"超过{limit}办结日 {due}，于 {day(ctx.completed_at)} 办结{late}"
    if over:
        return f"超过{limit}期限 {_days(over, ctx.unit)}仍未办结（{limit}办结日 {due}）"
    return f"超过{limit}办结日 {due} 仍未办结"


def title(
    rule: str,
    details: Mapping[str, Any],
    moment: datetime | str | None,
    subject: str,
    ctx: Context = NO_CONTEXT,
    *,
    fallback: str = "",
) -> str:
    """The card's one-line title: what happened, in words (see the module's doc)."""
    kind, _, ident = subject.partition(":")
    d = details
    who = _case_ref(ident, ctx) if kind == "case" else {
        "disclosure": f"信息公开申请 {ident}",  # their numbers (GK-20261113-001) are short and read whole
        "complaint": f"投诉 {ident}",
        "window": f"窗口 {ctx.window or ident}",
    }.get(kind, plain(fallback) or ident)
    who = who if who.endswith("）") else who + " "
    if rule == "R3" and (d.get("escalates_rule") or "deadline" in d and "statutory_due_date" not in d):
        base = ctx.escalated_title
        what = f"黄牌『{plain(base)}』" if base else f"{who}的{RULE_NAMES.get(str(d.get('escalates_rule')), '')}黄牌"
        return f"{what}督办期限 {day(d.get('deadline'))} 已过仍未整改"
    text = _rule_title(rule, kind, who, d, moment, ctx)
    return text if text is not None else (plain(fallback) or f"{who.rstrip()}：{RULE_NAMES.get(rule, rule)}")


def _rule_title(rule: str, kind: str, who: str, d: Mapping[str, Any], moment: datetime | str | None,
                ctx: Context) -> str | None:  # fmt: skip
    due = day(d.get("due_date")) if d.get("due_date") else ""
    if rule == "R1" and due:
        word = "答复期限" if kind == "disclosure" else "承诺办结日"
        return f"{who}即将到期（{word} {due}）"
    if rule == "R2":
        if kind == "complaint":
            stage = "受理" if d.get("stage") == "accept" else "答复"
            return f"{who}未在期限 {due} 前{stage}"
        if kind == "disclosure":
            return f"{who}超过答复期限 {due} 仍未答复"
        if due:
            return f"{who}{_completion('承诺', due, ctx, ctx.overdue_days)}"
    if rule == "R3" and d.get("statutory_due_date"):
        return f"{who}{_completion('法定', day(d['statutory_due_date']), ctx, None)}"
    if rule == "R4" and "fee_fen" in d:
        if not d.get("standard_fen"):
            return f"{who}为不收费事项，却收费 {yuan(d['fee_fen'])}"
        return f"{who}收费 {yuan(d['fee_fen'])}，超过标准 {yuan(d['standard_fen'])}"
    if rule == "R5":
        if "result_code" in d:
            code = d["result_code"]
            name = RESULT_NAMES.get(int(code), f"结果代码 {code}") if str(code).isdigit() else f"结果代码 {code}"
            return f"{who}以“{name}”办结，未说明理由"
        return f"{who}不予受理，未说明理由"
    if rule == "R6" and "requests" in d:
        return f"{who}第 {d['requests']} 次补正告知，未一次性告知"
    if rule == "R7":
        return {
            "no_acceptance": f"{who}办结，但没有受理记录",
            "before_acceptance": f"{who}的办结时间早于受理时间",
            "too_fast": f"{who}受理后 {_minutes(d.get('minutes'))} 分钟即办结，需人工复核",
        }.get(str(d.get("reason")))
    if rule == "R8" and "delay_hours" in d:
        name = event_name(str(d.get("event", "")))
        reported = f"，{when(d['reported_at'])} 报送" if d.get("reported_at") else ""
        subject = f"{who}的" if kind in ("case", "disclosure", "complaint") else ""
        return f"{subject}{name}记录迟报 {d['delay_hours']} 小时（{when(moment)} 发生{reported}）"
    if rule == "R9":
        return _r9_title(kind, who, d)
    if rule == "R10" and "minutes" in d:
        nth = d.get("nth_of_day") or 1
        again = f"，当日第 {nth} 次" if int(nth) > 1 else ""
        return f"{who}离岗超过 {d['minutes']} 分钟（自 {when(d.get('absent_since'))} 起{again}）"
    if rule == "R11" and "level" in d:
        rating = RATING_NAMES.get(int(d["level"]), f"{d['level']} 级") if str(d["level"]).isdigit() else d["level"]
        limit = f" {day(d['deadline'])} " if d.get("deadline") else ""
        return f"{who}的差评（{rating}）超过整改期限{limit}仍未整改"
    return None


def _r9_title(kind: str, who: str, d: Mapping[str, Any]) -> str | None:
    if kind == "disclosure":
        if "notice_deadline" in d:
            return f"{who}的补正告知晚于期限 {day(d['notice_deadline'])}"
        if "extensions" in d:
            return f"{who}第 {d['extensions']} 次延长，累计 {d.get('total')} 个工作日，超过上限"
        if "due_date" in d:
            return f"{who}在答复期限 {day(d['due_date'])} 之后才延长"
        return None
    if d.get("kind") == 2:
        return f"{who}挂起（特别程序）未说明理由"
    if "extension_days" in d:
        return (f"{who}延长 {d['extension_days']} 天，累计 {d.get('total')} 天，"
                f"超过上限 {d.get('maximum')} 天")  # fmt: skip
    if "due_date" in d:
        return f"{who}在承诺办结日 {day(d['due_date'])} 之后才申请延长"
    return None


def _minutes(value: Any) -> str:
    try:
        return f"{float(value):.0f}"
    except (TypeError, ValueError):
        return str(value)


def text(
    rule: str,
    level: str,
    details: Mapping[str, Any],
    moment: datetime | str | None,
    subject: str,
    ctx: Context = NO_CONTEXT,
    *,
    fallback: str = "",
) -> str:
    """The card's full text: its level, title, who it concerns and when its condition arose."""
    head = f"{LEVEL_NAMES.get(level, '预警')}：{title(rule, details, moment, subject, ctx, fallback=fallback)}"
    who = [f"{label}：{name}" for label, name in (("部门", ctx.dept), ("窗口", ctx.window), ("经办人", ctx.staff))
           if name]  # fmt: skip
    parts = [head, *(["，".join(who)] if who else []), *([f"发生于 {when(moment)}"] if moment else [])]
    return "。".join(parts) + "。"


# -- tidying text written before this module ---------------------------------------------------

_EVENT_TYPE = re.compile(r"\b(?:case|presence|agent|complaint|disclosure|queue)\.[a-z_]+")
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?")
_CARD_ID = re.compile(r"\bcard-[0-9a-f]{8,}")
_HASH = re.compile(r"\b[0-9a-f]{16,}…?")
_OLD_NOTE = re.compile(
    r"（依据记录 [0-9a-f]+…，((?:case|presence|agent|complaint|disclosure|queue)\.[a-z_]+)，发生于 ([^）]+)）")


def plain(value: str | None) -> str:
    """Free text without internal ids, hashes, event type names or ISO timestamps: an old
    retraction note's ``（依据记录 ab12…，case.step，发生于 2026-09-09T16:48:59+08:00）`` becomes
    ``（依据办理环节记录，发生于 2026-09-09 16:48）``."""
    if not value:
        return ""
    out = _OLD_NOTE.sub(lambda m: f"（依据{event_name(m.group(1))}记录，发生于 {when(m.group(2))}）", value)
    out = _ISO_TIME.sub(lambda m: when(m.group(0)), out)
    out = _EVENT_TYPE.sub(lambda m: event_name(m.group(0)), out)
    out = _CARD_ID.sub("相关亮牌", out)
    out = _HASH.sub("", out)
    return re.sub(r" {2,}", " ", out).strip()
