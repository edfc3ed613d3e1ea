"""DATA/notify.yaml is strict (every error names the key and the file), and ``xiaoneng-hub notify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.notify.backoff import retry_delay
from hub.notify.channels import render_body
from hub.notify.config import load_config, parse_config
from hub.notify.messages import card_message, sms_text
from hub.notify.recipients import Person, Prefs, card_deliveries
from shared.errors import ConfigError
from tests.notify.conftest import Store

SMTP = {"host": "mail.example.cn", "sender": "效能监察 <xn@example.cn>"}
SMS = {"url": "https://gw.example.cn/send", "body": {"to": "{phone}", "msg": "{text}"}}


@pytest.mark.parametrize(("config", "error"), [
    ({"smtp": {**SMTP, "hots": "x"}}, "unknown key smtp.'hots'"),
    ({"smtp": {"sender": "a@b.cn"}}, "missing required key smtp.'host'"),
    ({"smtp": {**SMTP, "port": 70000}}, "smtp.port: 70000 is not a TCP port"),
    ({"smtp": {**SMTP, "port": "25"}}, "smtp.port must be an integer"),
    ({"smtp": {**SMTP, "ssl": True, "starttls": True}}, "choose starttls (port 587) or ssl (port 465), not both"),
    ({"smtp": {**SMTP, "username": "u"}}, "username and password go together"),
    ({"smtp": {**SMTP, "sender": "nobody"}}, "smtp.sender: 'nobody' is not an address"),
    ({"sms": {**SMS, "url": "ftp://gw/"}}, "sms.url: 'ftp://gw/' is not an http(s) URL"),
    ({"sms": {**SMS, "method": "GET"}}, "sms.method: 'GET': use POST or PUT"),
    ({"sms": {**SMS, "body": {"to": "{phone}"}}}, "sms.body: the template must use {text}"),
    ({"retry": {"max_attempts": 0}}, "retry: need max_attempts >= 1"),
    ({"monthly_report": {"send_at": "9:00"}}, "monthly_report.send_at: '9:00' is not a time HH:MM"),
    ({"monthly_report": {"leaders": ["Bad Name"]}}, "monthly_report.leaders: 'Bad Name' is not a username"),
    ({"monthly_report": {"emails": ["a@b.cn"]}}, "monthly_report.emails: e-mail addresses need an smtp section"),
    ({"base_url": "hub:8080"}, "base_url: 'hub:8080' is not an http(s) URL"),
    ({"sms": [1]}, "sms must be a mapping"),
])
def test_bad_configs_are_refused_with_the_key_and_file(config: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config, "/data/notify.yaml")
    assert str(info.value).startswith("/data/notify.yaml: ") and error in str(info.value), str(info.value)


def test_absent_file_means_the_inbox_only(tmp_path: Path) -> None:
    assert load_config(tmp_path).channels == {"inbox"}
    full = parse_config({"smtp": SMTP, "sms": SMS}, "f")
    assert full.channels == {"inbox", "email", "sms"} and full.monthly_report.send_time.hour == 9
    assert full.smtp is not None and full.smtp.use_starttls
    implicit = parse_config({"smtp": {**SMTP, "port": 465, "ssl": True}}, "f").smtp
    assert implicit is not None and not implicit.use_starttls
    plain = parse_config({"smtp": {**SMTP, "port": 25, "starttls": False}}, "f").smtp
    assert plain is not None and not plain.use_starttls


def test_backoff_doubles_with_a_cap_and_bounded_jitter() -> None:
    mid = [retry_delay(n, 30, 3600, rand=lambda: 0.5) for n in range(1, 10)]
    assert mid == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_delay(1, 30, 3600, rand=lambda: 0.0) == pytest.approx(24)
    assert retry_delay(1, 30, 3600, rand=lambda: 1.0) == pytest.approx(36)
    assert retry_delay(200, 30, 3600, rand=lambda: 1.0) == 3600
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        retry_delay(0, 30, 3600)


def test_sms_text_and_body_template() -> None:
    card = {"card_id": "K", "rule": "R4", "level": "red", "dept_code": "D01", "dept_name": "市场监管局",
            "case_id": "C-1", "title": "收费超过标准" * 30, "deadline": None}
    message = card_message(card, "raised")
    text = sms_text(message, 70, "http://hub/cards/K")
    assert len(text) == 70 and text.endswith("… http://hub/cards/K") and text.startswith("【效能监察】")
    body = render_body({"to": "{phone}", "list": ["{text}", 3], "n": 1}, "138", "你好 {x}")
    assert body == {"to": "138", "list": ["你好 {x}", 3], "n": 1}
    with pytest.raises(ValueError, match="unknown card notification kind"):
        card_message(card, "lost")


def test_deliveries_follow_preferences_and_addresses() -> None:
    people = [Person("a", "a@x.cn", "138", Prefs()), Person("b", None, "139", Prefs(frozenset({"email", "sms"}))),
              Person("c", "c@x.cn", None, Prefs(levels=frozenset({"red"})))]
    got = {(d.channel, d.recipient) for d in card_deliveries(people, "yellow", frozenset({"inbox", "email"}))}
    assert got == {("inbox", "a"), ("email", "a")}  # b has no e-mail and no SMS channel here; c wants red only
    with pytest.raises(ValueError, match="unknown channel or level 'fax'"):
        Prefs(frozenset({"fax"}))


def test_cli_check_status_contact_retry(store: Store) -> None:
    runner = CliRunner()
    data = str(store.data)
    result = runner.invoke(main, ["notify", "check", "--data", data])
    assert result.exit_code == 0 and "channels: inbox" in result.output, result.output
    store.write_config({"smtp": {**SMTP, "port": 2525}, "monthly_report": {"leaders": ["leader-wang", "ghost"]}})
    result = runner.invoke(main, ["notify", "check", "--data", data])
    assert result.exit_code == 1 and "names no enabled user: ghost" in result.output, result.output
    store.write_config({"smtp": {**SMTP, "bogus": 1}})
    result = runner.invoke(main, ["notify", "check", "--data", data])
    assert result.exit_code == 1 and "unknown key smtp.'bogus'" in result.output
    result = runner.invoke(main, ["notify", "contact", "dept-b", "--phone", "+8613800000002", "--data", data])
    assert result.exit_code == 0 and "e-mail b@d01.example.cn, phone +8613800000002" in result.output
    result = runner.invoke(main, ["notify", "contact", "dept-b", "--email", "nope", "--data", data])
    assert result.exit_code == 1 and "invalid e-mail address" in result.output
    conn = store.conn()
    conn.execute("INSERT INTO notify_messages(key, kind, subject, body, short, created_at) VALUES "
                 "('k', 'card.raised', 's', 'b', 's', '2026-11-26T00:00:00+00:00')")
    conn.execute("INSERT INTO notify_outbox(message_id, channel, recipient, address, state, attempts, "
                 "next_attempt_at, last_error, created_at) VALUES (1, 'email', 'dept-a', 'a@d01.example.cn', "
                 "'gave_up', 8, '2026-11-26T00:00:00+00:00', 'SMTP unreachable', '2026-11-26T00:00:00+00:00')")
    conn.commit()
    conn.close()
    result = runner.invoke(main, ["notify", "status", "--data", data])
    assert "gave_up 1" in result.output and "SMTP unreachable" in result.output, result.output
    result = runner.invoke(main, ["notify", "retry", "--data", data])
    assert result.exit_code == 0 and result.output.startswith("1 rows back to pending")
    assert "pending 1" in runner.invoke(main, ["notify", "status", "--data", data]).output


def test_every_notify_command_and_option_is_documented() -> None:
    from hub.notify.cli import notify_group

    doc = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text(encoding="utf-8")
    for name, command in notify_group.commands.items():
        assert f"notify {name}" in doc, f"notify {name} is not in docs/notifications.md"
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert opt in doc, f"notify {name} {opt} is not documented"
