"""Writing planned facts into each kind of department database (see simulator/schema.py).

A writer turns one fact (受理, 环节 start/end, 补正, 特别程序, 办结, 评价) into the inserts and
updates the department's product would make. ``recorded`` (the fact's due time) goes into the
bookkeeping columns (``created_at``/``updated_at``, ``CD_TIME``, ``LAST_UPDATED_TIME_``); the
business columns carry when it happened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from simulator.catalogue import Catalogue
from simulator.db import Database
from simulator.meta import get_meta, set_meta
from simulator.workdays import counted_date

SHANGHAI = ZoneInfo("Asia/Shanghai")


class FactLike(Protocol):
    kind: str
    case_no: str
    at: datetime
    due: datetime
    data: dict[str, Any]


class Writer(Protocol):
    """What the engine needs from a schema writer."""

    def write_catalogue(self, db: Database, catalogue: Catalogue, now: datetime) -> None: ...

    def apply(self, db: Database, fact: FactLike) -> None: ...

    def load_state(self, db: Database) -> None: ...

    def save_state(self, db: Database) -> None: ...


def _local(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI)


# -- reference ------------------------------------------------------------------------------
REFERENCE_RESULT = {6: "01", 0: "02", 7: "03", 1: "04", 2: "05", 3: "06", 5: "07"}
REFERENCE_UNIT = {"G": "工作日", "Z": "自然日"}
REFERENCE_ACTION = {"通过": "1", "退回": "2", "其他": "9"}


class ReferenceWriter:
    """The simulator's own approval product (appr_* tables, naive local times)."""

    def load_state(self, db: Database) -> None:
        return None

    def save_state(self, db: Database) -> None:
        return None

    def write_catalogue(self, db: Database, catalogue: Catalogue, now: datetime) -> None:
        ts = db.ts(_local(now))
        for d in catalogue.departments:
            db.insert("appr_dept", {"dept_code": d.code, "dept_name": d.name,
                                    "credit_code": d.credit_code, "created_at": ts,
                                    "updated_at": ts})
            for w in d.windows:
                db.insert("appr_window", {"window_no": w.window_id, "window_name": w.name,
                                          "dept_code": d.code, "hall_name": w.hall,
                                          "created_at": ts, "updated_at": ts})
            for s in (*d.officers, *(x for w in d.windows for x in w.staff)):
                db.insert("appr_staff", {"staff_no": s.staff_id, "staff_name": s.name,
                                         "dept_code": d.code, "window_no": s.window_id,
                                         "post_name": s.role, "created_at": ts,
                                         "updated_at": ts})
            for i in d.items:
                db.insert("appr_item", {
                    "item_code": i.code, "item_name": i.name, "dept_code": d.code,
                    "legal_limit": i.statutory.value,
                    "legal_unit": REFERENCE_UNIT[i.statutory.unit],
                    "promise_limit": i.promised.value,
                    "promise_unit": REFERENCE_UNIT[i.promised.unit],
                    "charge_standard": db.money(i.fee_fen), "created_at": ts, "updated_at": ts})

    def apply(self, db: Database, fact: FactLike) -> None:
        d, at, rec = fact.data, db.ts(_local(fact.at)), db.ts(_local(fact.due))
        stamp = {"created_at": rec, "updated_at": rec}
        if fact.kind in ("accept", "refuse"):
            db.insert("appr_case", {
                "case_no": fact.case_no, "item_code": d["item_code"], "item_name": d["item_name"],
                "dept_code": d["dept_code"], "dept_name": d["dept_name"],
                "window_no": d["window_id"], "accept_user_no": d["staff_id"],
                "accept_user_name": d["staff_name"], "applicant_name": d["applicant_name"],
                "applicant_type": d["applicant_type"], "case_type": str(d["case_kind"]),
                "legal_limit": d["statutory"]["value"],
                "legal_unit": REFERENCE_UNIT[d["statutory"]["unit"]],
                "promise_limit": d["promised"]["value"],
                "promise_unit": REFERENCE_UNIT[d["promised"]["unit"]],
                "charge_standard": db.money(d["fee_fen"]),
                "accept_status": "1" if fact.kind == "accept" else "0",
                "refuse_reason": d.get("reason") or None, "accept_time": at, **stamp})
        elif fact.kind == "step_start":
            db.insert("appr_step", {
                "case_no": fact.case_no, "step_no": d["step_no"], "step_code": d["step_code"],
                "step_name": d["step_name"], "handler_no": d["handler_id"],
                "handler_name": d["handler_name"], "start_time": at, **stamp})
        elif fact.kind == "step_end":
            db.execute("UPDATE appr_step SET end_time = ?, action_code = ?, opinion = ?, "
                       "updated_at = ? WHERE case_no = ? AND step_no = ?",
                       (at, REFERENCE_ACTION[d["action"]], d["opinion"], rec, fact.case_no,
                        d["step_no"])).close()
        elif fact.kind == "supp_request":
            db.insert("appr_supplement", {
                "case_no": fact.case_no, "supplement_no": d["supplement_no"], "notice_time": at,
                "reason": d["reason"], "materials": d["materials"], **stamp})
        elif fact.kind == "supp_receive":
            db.execute("UPDATE appr_supplement SET receive_time = ?, updated_at = ? "
                       "WHERE case_no = ? AND supplement_no = ?",
                       (at, rec, fact.case_no, d["supplement_no"])).close()
        elif fact.kind == "special_start":
            db.insert("appr_special", {
                "case_no": fact.case_no, "special_no": d["special_no"], "special_type": d["code"],
                "special_name": d["name"], "reason": d["reason"] or None,
                "time_limit": d["limit"], "limit_unit": REFERENCE_UNIT[d["unit"]],
                "extend_days": d["extension_days"], "start_time": at, **stamp})
        elif fact.kind == "special_end":
            db.execute("UPDATE appr_special SET end_time = ?, special_result = ?, "
                       "special_fee = ?, updated_at = ? WHERE case_no = ? AND special_no = ?",
                       (at, d["result"], db.money(d["fee_fen"]), rec, fact.case_no,
                        d["special_no"])).close()
        elif fact.kind == "complete":
            db.insert("appr_result", {
                "case_no": fact.case_no, "result_code": REFERENCE_RESULT[d["result_code"]],
                "result_name": d["result_text"], "result_reason": d["reason"] or None,
                "certificate_no": d["licence_no"] or None,
                "charge_amount": db.money(d["fee_fen"]), "finish_user_name": d["finisher"],
                "finish_time": at, **stamp})
        elif fact.kind == "rate":
            db.insert("appr_rating", {
                "case_no": fact.case_no, "stars": 6 - d["level"], "channel": d["channel"],
                "content": d["comment"] or None, "rate_time": at, **stamp})
        elif fact.kind == "rate_rectify":
            db.execute("UPDATE appr_rating SET rectify_time = ?, rectify_measure = ?, "
                       "rectify_user_name = ?, updated_at = ? WHERE case_no = ?",
                       (at, d["measure"], d["handler"], rec, fact.case_no)).close()
        else:
            raise ValueError(f"unknown fact kind {fact.kind!r}")


# -- national exchange tables -----------------------------------------------------------------
EXCHANGE_CHANNEL = {"window": "1", "pc": "2", "app": "3", "sms": "4", "hotline": "5"}


class ExchangeWriter:
    """The up_pro_* exchange tables: one row per reported fact, CD_* bookkeeping."""

    def load_state(self, db: Database) -> None:
        return None

    def save_state(self, db: Database) -> None:
        return None

    def write_catalogue(self, db: Database, catalogue: Catalogue, now: datetime) -> None:
        return None  # exchange databases carry no catalogue

    def _cd(self, db: Database, fact: FactLike, op: str = "I") -> dict[str, Any]:
        rec = _local(fact.due)
        return {"CD_OPERATION": op, "CD_TIME": db.ts(rec), "CD_BATCH": rec.strftime("%Y%m%d%H")}

    def _next_sn(self, db: Database, case_no: str) -> int:
        rows = db.query("SELECT MAX(SN) FROM up_pro_process WHERE PROJID = ?", (case_no,))
        return int(rows[0][0] or 0) + 1

    def apply(self, db: Database, fact: FactLike) -> None:
        d, at = fact.data, db.ts(_local(fact.at))
        if fact.kind in ("accept", "refuse"):
            promised = d["promised"]
            due = counted_date(_local(fact.at).date(), promised["value"], promised["unit"])
            db.insert("up_pro_accept", {
                "PROJID": fact.case_no, "IMPLEMENTCODE": d["item_code"],
                "SERVICENAME": d["item_name"], "INFOTYPE": str(d["case_kind"]),
                "ORGCODE": d["dept_code"], "ORGNAME": d["dept_name"], "WINDOWNO": d["window_id"],
                "WINDOWNAME": d.get("window_name"),
                "ACCEPTUSERID": d["staff_id"], "ACCEPTUSERNAME": d["staff_name"],
                "APPLYERNAME": d["applicant_name"], "APPLYERTYPE": d["applicant_type"],
                "ISACCEPT": "1" if fact.kind == "accept" else "0",
                "NOACCEPTREASON": d.get("reason") or None, "ACCEPTTIME": at,
                "PROMISEVALUE": promised["value"], "PROMISETYPE": promised["unit"],
                "LEGALVALUE": d["statutory"]["value"], "LEGALTYPE": d["statutory"]["unit"],
                "PROMISEETIME": db.ts(datetime.combine(due, datetime.max.time())),
                "CHARGESTANDARD": db.money(d["fee_fen"]), **self._cd(db, fact)}, pk="CD_ID")
        elif fact.kind == "step_end":
            db.insert("up_pro_process", {
                "PROJID": fact.case_no, "SN": self._next_sn(db, fact.case_no),
                "NODECODE": d["step_code"], "NODENAME": d["step_name"],
                "NODEACTION": {"通过": "1", "退回": "2"}.get(d["action"], "9"),
                "HANDLERID": d["handler_id"], "HANDLERNAME": d["handler_name"],
                "HANDLEOPINION": d["opinion"], "NODESTARTTIME": db.ts(_local(d["started_at"])),
                "NODEENDTIME": at, **self._cd(db, fact)}, pk="CD_ID")
        elif fact.kind in ("supp_request", "supp_receive"):
            request = fact.kind == "supp_request"
            db.insert("up_pro_process", {
                "PROJID": fact.case_no, "SN": self._next_sn(db, fact.case_no),
                "NODECODE": "BZGZ" if request else "BJSL",
                "NODENAME": "补正告知" if request else "补交受理",
                "NODEACTION": "3" if request else "4",
                "HANDLEOPINION": (f"{d['reason']}：{d['materials']}" if request else "已收到补正材料"),
                "NODESTARTTIME": at, "NODEENDTIME": at, **self._cd(db, fact)}, pk="CD_ID")
        elif fact.kind == "special_start":
            db.insert("up_pro_special_procedure", {
                "PROJID": fact.case_no, "SN": d["special_no"], "SPECIALTYPE": d["code"],
                "SPECIALNAME": d["name"], "SPECIALREASON": d["reason"] or None,
                "SPECIALLIMIT": d["limit"], "SPECIALLIMITUNIT": d["unit"],
                "EXTENDDAYS": d["extension_days"], "STARTTIME": at, **self._cd(db, fact)},
                pk="CD_ID")
        elif fact.kind == "special_end":
            cd = self._cd(db, fact, "U")
            db.execute("UPDATE up_pro_special_procedure SET ENDTIME = ?, SPECIALRESULT = ?, "
                       "SPECIALFEE = ?, CD_OPERATION = ?, CD_TIME = ?, CD_BATCH = ? "
                       "WHERE PROJID = ? AND SN = ?",
                       (at, d["result"], db.money(d["fee_fen"]), cd["CD_OPERATION"],
                        cd["CD_TIME"], cd["CD_BATCH"], fact.case_no, d["special_no"])).close()
        elif fact.kind == "complete":
            db.insert("up_pro_result", {
                "PROJID": fact.case_no, "RESULTCODE": str(d["result_code"]),
                "RESULTNAME": d["result_text"], "RESULTREASON": d["reason"] or None,
                "CERTIFICATENO": d["licence_no"] or None,
                "CHARGEAMOUNT": db.money(d["fee_fen"]), "FINISHUSERNAME": d["finisher"],
                "FINISHTIME": at, **self._cd(db, fact)}, pk="CD_ID")
        elif fact.kind == "rate":
            db.insert("up_pro_evaluation", {
                "PROJID": fact.case_no, "EVALEVEL": str(d["level"]),
                "EVACHANNEL": EXCHANGE_CHANNEL[d["channel"]], "EVACONTENT": d["comment"] or None,
                "EVATIME": at, **self._cd(db, fact)}, pk="CD_ID")
        elif fact.kind == "rate_rectify":
            cd = self._cd(db, fact, "U")
            db.execute("UPDATE up_pro_evaluation SET RECTIFYTIME = ?, RECTIFYMEASURE = ?, "
                       "RECTIFYUSERNAME = ?, CD_OPERATION = ?, CD_TIME = ?, CD_BATCH = ? "
                       "WHERE PROJID = ?",
                       (at, d["measure"], d["handler"], cd["CD_OPERATION"], cd["CD_TIME"],
                        cd["CD_BATCH"], fact.case_no)).close()
        elif fact.kind != "step_start":  # exchange reports a step once it has ended
            raise ValueError(f"unknown fact kind {fact.kind!r}")


# -- Flowable history tables ------------------------------------------------------------------
FLOWABLE_RESULT = {6: "approve", 0: "certificate", 7: "deny", 1: "return", 2: "void",
                   3: "delete", 5: "abandon"}
FLOWABLE_UNIT = {"G": "workday", "Z": "calendarday"}
FLOWABLE_LEVEL = {1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"}


class FlowableWriter:
    """ACT_HI_PROCINST / ACT_HI_TASKINST / ACT_HI_VARINST as a Flowable 6 engine writes them.

    Ids come from a DbIdGenerator-style counter; times are naive UTC (the JVM runs in UTC);
    case data lives in process variables, step decisions in task-local variables.
    """

    def __init__(self) -> None:
        self.next_id = 10001

    def load_state(self, db: Database) -> None:
        self.next_id = int(get_meta(db, "flowable_next_id") or 10001)

    def save_state(self, db: Database) -> None:
        set_meta(db, "flowable_next_id", str(self.next_id))

    def write_catalogue(self, db: Database, catalogue: Catalogue, now: datetime) -> None:
        return None  # the BPM engine has no item catalogue of its own

    def _id(self) -> str:
        self.next_id += 1
        return str(self.next_id - 1)

    @staticmethod
    def _utc(db: Database, moment: datetime) -> Any:
        return db.ts(moment.astimezone(UTC))

    def _proc(self, db: Database, case_no: str) -> tuple[str, str, Any]:
        rows = db.query("SELECT PROC_INST_ID_, PROC_DEF_ID_, TENANT_ID_ FROM ACT_HI_PROCINST "
                        "WHERE BUSINESS_KEY_ = ?", (case_no,))
        if not rows:
            raise LookupError(f"no process instance for case {case_no}")
        return str(rows[0][0]), str(rows[0][1]), rows[0][2]

    def _var(self, db: Database, proc: str, name: str, value: Any, moment: datetime,
             task: str | None = None, text2: str | None = None) -> None:
        row: dict[str, Any] = {"ID_": self._id(), "REV_": 0, "PROC_INST_ID_": proc,
                               "EXECUTION_ID_": proc, "TASK_ID_": task, "NAME_": name,
                               "TEXT2_": text2, "CREATE_TIME_": self._utc(db, moment),
                               "LAST_UPDATED_TIME_": self._utc(db, moment)}
        if value is None:
            row["VAR_TYPE_"] = "null"
        elif isinstance(value, bool):
            row.update(VAR_TYPE_="boolean", LONG_=int(value))
        elif isinstance(value, int):
            row.update(VAR_TYPE_="integer", LONG_=value, TEXT_=str(value))
        elif isinstance(value, float):
            row.update(VAR_TYPE_="double", DOUBLE_=value)
        else:
            row.update(VAR_TYPE_="string", TEXT_=str(value))
        cols = ", ".join(row)
        db.execute(f"INSERT INTO ACT_HI_VARINST ({cols}) VALUES ({', '.join('?' * len(row))})",
                   list(row.values())).close()

    def _task(self, db: Database, fact: FactLike, key: str, name: str, assignee: str | None,
              variables: dict[str, Any]) -> str:
        proc, proc_def, tenant = self._proc(db, fact.case_no)
        task = self._id()
        row = {"ID_": task, "REV_": 1, "PROC_DEF_ID_": proc_def, "TASK_DEF_KEY_": key,
               "PROC_INST_ID_": proc, "EXECUTION_ID_": proc, "NAME_": name,
               "ASSIGNEE_": assignee, "START_TIME_": self._utc(db, fact.at), "PRIORITY_": 50,
               "TENANT_ID_": tenant, "LAST_UPDATED_TIME_": self._utc(db, fact.due)}
        db.execute(f"INSERT INTO ACT_HI_TASKINST ({', '.join(row)}) "
                   f"VALUES ({', '.join('?' * len(row))})", list(row.values())).close()
        for var, value in variables.items():
            self._var(db, proc, var, value, fact.due, task)
        return task

    def _end_task(self, db: Database, fact: FactLike, key: str, variables: dict[str, Any]) -> None:
        proc, _, _ = self._proc(db, fact.case_no)
        rows = db.query("SELECT ID_, START_TIME_ FROM ACT_HI_TASKINST WHERE PROC_INST_ID_ = ? "
                        "AND TASK_DEF_KEY_ = ? AND END_TIME_ IS NULL ORDER BY START_TIME_",
                        (proc, key))
        if not rows:
            raise LookupError(f"case {fact.case_no}: no open task {key}")
        task = str(rows[0][0])
        started = rows[0][1]
        if isinstance(started, str):
            started = datetime.fromisoformat(started)
        ended = fact.at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
        duration = int((ended - started.replace(tzinfo=None)).total_seconds() * 1000)
        db.execute("UPDATE ACT_HI_TASKINST SET END_TIME_ = ?, DURATION_ = ?, REV_ = REV_ + 1, "
                   "LAST_UPDATED_TIME_ = ? WHERE ID_ = ?",
                   (self._utc(db, fact.at), duration, self._utc(db, fact.due), task)).close()
        for var, value in variables.items():
            self._var(db, proc, var, value, fact.due, task)

    def apply(self, db: Database, fact: FactLike) -> None:
        d = fact.data
        if fact.kind in ("accept", "refuse"):
            proc = self._id()
            proc_def = f"approval_{d['dept_code'].lower()}:3:{2501 + len(d['dept_code'])}"
            refused = fact.kind == "refuse"
            row = {"ID_": proc, "REV_": 1, "PROC_INST_ID_": proc, "BUSINESS_KEY_": fact.case_no,
                   "PROC_DEF_ID_": proc_def, "START_TIME_": self._utc(db, fact.at),
                   "START_USER_ID_": d["staff_id"], "START_ACT_ID_": "startEvent",
                   "TENANT_ID_": d["dept_code"], "NAME_": d["item_name"]}
            if refused:
                row.update(END_TIME_=self._utc(db, fact.at), DURATION_=0,
                           END_ACT_ID_="endNotAccepted")
            db.execute(f"INSERT INTO ACT_HI_PROCINST ({', '.join(row)}) "
                       f"VALUES ({', '.join('?' * len(row))})", list(row.values())).close()
            variables: dict[str, Any] = {
                "itemCode": d["item_code"], "itemName": d["item_name"],
                "deptCode": d["dept_code"], "deptName": d["dept_name"],
                "windowNo": d["window_id"], "windowName": d.get("window_name"),
                "acceptUserName": d["staff_name"],
                "applicantName": d["applicant_name"], "applicantType": d["applicant_type"],
                "caseType": d["case_kind"], "promiseLimit": d["promised"]["value"],
                "promiseUnit": FLOWABLE_UNIT[d["promised"]["unit"]],
                "legalLimit": d["statutory"]["value"],
                "legalUnit": FLOWABLE_UNIT[d["statutory"]["unit"]],
                "feeStandard": d["fee_fen"] / 100,
                "acceptStatus": "rejected" if refused else "accepted",
            }
            if refused:
                variables["refuseReason"] = d.get("reason") or None
            for name, value in variables.items():
                self._var(db, proc, name, value, fact.due)
        elif fact.kind == "step_start":
            self._task(db, fact, d["step_code"], d["step_name"], d["handler_id"], {})
        elif fact.kind == "step_end":
            self._end_task(db, fact, d["step_code"], {
                "approveAction": {"通过": "pass", "退回": "reject"}.get(d["action"], "other"),
                "approveOpinion": d["opinion"]})
        elif fact.kind == "supp_request":
            self._task(db, fact, "supplement", "补正告知", None, {
                "supplementReason": d["reason"], "supplementMaterials": d["materials"]})
        elif fact.kind == "supp_receive":
            self._end_task(db, fact, "supplement", {})
        elif fact.kind == "special_start":
            self._task(db, fact, "specialProcedure", d["name"], None, {
                "spType": d["code"], "spReason": d["reason"] or None, "spLimit": d["limit"],
                "spLimitUnit": FLOWABLE_UNIT[d["unit"]], "spExtendDays": d["extension_days"]})
            if d["kind"] == 1:  # an approved extension is a task that ends when approved
                self._end_task(db, fact, "specialProcedure", {})
        elif fact.kind == "special_end":
            self._end_task(db, fact, "specialProcedure", {
                "spResult": d["result"], "spFee": d["fee_fen"] / 100})
        elif fact.kind == "complete":
            proc, _, _ = self._proc(db, fact.case_no)
            rows = db.query("SELECT START_TIME_ FROM ACT_HI_PROCINST WHERE ID_ = ?", (proc,))
            started = rows[0][0]
            if isinstance(started, str):
                started = datetime.fromisoformat(started)
            ended = fact.at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
            for name, value in {"resultCode": FLOWABLE_RESULT[d["result_code"]],
                                "resultText": d["result_text"],
                                "resultReason": d["reason"] or None,
                                "feeCharged": d["fee_fen"] / 100,
                                "licenceNo": d["licence_no"] or None}.items():
                self._var(db, proc, name, value, fact.due)
            db.execute("UPDATE ACT_HI_PROCINST SET END_TIME_ = ?, DURATION_ = ?, "
                       "END_ACT_ID_ = ?, REV_ = REV_ + 1 WHERE ID_ = ?",
                       (self._utc(db, fact.at),
                        int((ended - started.replace(tzinfo=None)).total_seconds() * 1000),
                        "endEvent", proc)).close()
        elif fact.kind == "rate":
            proc, _, _ = self._proc(db, fact.case_no)
            self._var(db, proc, "satisfaction", FLOWABLE_LEVEL[d["level"]], fact.at,
                      text2=d["channel"])
        elif fact.kind == "rate_rectify":
            proc, _, _ = self._proc(db, fact.case_no)
            self._var(db, proc, "ratingRectified", d["measure"], fact.at, text2=d["handler"])
        else:
            raise ValueError(f"unknown fact kind {fact.kind!r}")


# -- complaints -----------------------------------------------------------------------------
class ComplaintsWriter:
    """The city's 12345 hotline / complaints system: ``ts_complaint`` and ``gk_apply`` (one row
    per matter, its states as time columns; naive local times)."""

    def load_state(self, db: Database) -> None:
        return None

    def save_state(self, db: Database) -> None:
        return None

    def write_catalogue(self, db: Database, catalogue: Catalogue, now: datetime) -> None:
        return None  # the complaints system names departments and staff by their codes

    def apply(self, db: Database, fact: FactLike) -> None:
        d, at, rec = fact.data, db.ts(_local(fact.at)), db.ts(_local(fact.due))
        no = fact.case_no
        if fact.kind == "c_file":
            db.insert("ts_complaint", {
                "ticket_no": no, "channel": d["channel"], "complainant": d["complainant"],
                "target_dept_code": d["dept_code"], "target_dept_name": d["dept_name"],
                "target_staff_no": d["staff_id"], "target_staff_name": d["staff_name"],
                "case_no": None, "content": d["content"], "status": "10",
                "register_time": at, "created_at": rec, "updated_at": rec})
            return
        if fact.kind == "d_receive":
            db.insert("gk_apply", {
                "apply_no": no, "dept_code": d["dept_code"], "dept_name": d["dept_name"],
                "applicant_name": d["applicant_name"], "apply_way": d["apply_way"],
                "content": d["content"], "receive_time": at, "created_at": rec,
                "updated_at": rec})
            return
        updates: dict[str, Any]
        if fact.kind == "c_accept":
            table, key, updates = "ts_complaint", "ticket_no", {"accept_time": at, "status": "20"}
        elif fact.kind == "c_answer":
            table, key = "ts_complaint", "ticket_no"
            updates = {"reply_time": at, "reply_content": d["reply"], "status": "30"}
        elif fact.kind == "c_close":
            table, key = "ts_complaint", "ticket_no"
            updates = {"finish_time": at, "verify_result": d["verify"], "status": d["status"]}
        else:
            table, key = "gk_apply", "apply_no"
            column = {"d_supp_request": "supplement_notice_time",
                      "d_supp_receive": "supplement_receive_time",
                      "d_consult_start": "consult_start_time", "d_consult_end": "consult_end_time",
                      "d_extend": "extend_time", "d_answer": "reply_time"}.get(fact.kind)
            if column is None:
                raise ValueError(f"unknown fact kind {fact.kind!r}")
            updates = {column: at}
            if fact.kind == "d_extend":
                updates["extend_days"] = d["days"]
            if fact.kind == "d_answer":
                updates["reply_type"] = d["reply_type"]
        updates["updated_at"] = rec
        sets = ", ".join(f"{c} = ?" for c in updates)
        db.execute(f"UPDATE {table} SET {sets} WHERE {key} = ?", [*updates.values(), no]).close()


def writer_for(kind: str) -> Writer:
    """The writer of schema ``kind``."""
    writers: dict[str, type[Writer]] = {"reference": ReferenceWriter, "exchange": ExchangeWriter,
                                        "flowable": FlowableWriter,
                                        "complaints": ComplaintsWriter}
    try:
        return writers[kind]()
    except KeyError:
        raise ValueError(f"unknown schema {kind!r}") from None
