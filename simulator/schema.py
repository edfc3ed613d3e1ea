"""The tables the simulator writes, for SQLite, PostgreSQL and MySQL/MariaDB.

Four kinds of database, one per shipped mapping profile (three department approval products and the
city's complaints system):

- ``reference`` — the simulator's own approval product: ``appr_case`` (受理/不予受理),
  ``appr_step`` (环节), ``appr_supplement`` (补正), ``appr_special`` (特别程序),
  ``appr_result`` (办结), ``appr_rating`` (好差评), plus its catalogue tables. Integer keys,
  ``created_at`` / ``updated_at`` on every table, money as DECIMAL yuan, naive local times.
- ``exchange`` — the national exchange tables in GB/T 39046 style: ``up_pro_accept``,
  ``up_pro_process`` (环节, 补正告知 and 补交受理 as 业务动作), ``up_pro_special_procedure``,
  ``up_pro_result`` and ``up_pro_evaluation``, with the exchange bookkeeping columns ``CD_ID``
  (integer key), ``CD_OPERATION`` (I/U/D), ``CD_TIME`` (when the row entered the exchange DB) and
  ``CD_BATCH``.
- ``flowable`` — the Flowable 6 history tables ``ACT_HI_PROCINST``, ``ACT_HI_TASKINST`` and
  ``ACT_HI_VARINST`` with the column names and types of Flowable's own create scripts
  (``flowable.{postgres,mysql}.create.history.sql`` and the task/variable service scripts).
  Flowable runs on a JVM in UTC here, so these times are naive **UTC**.
- ``complaints`` — the city's 12345 hotline / complaints system (投诉) with its government
  information disclosure desk (依申请公开): ``ts_complaint`` (one row per complaint ticket, its
  state as columns: 登记, 受理, 答复, 办结 times and the 核查结论) and ``gk_apply`` (one row per
  disclosure request: 收到, 补正告知/补正收到, 征求意见 start/end, 延期, 答复 times). Naive
  local times, ``created_at`` / ``updated_at`` on both.

Every kind also gets the simulator's bookkeeping: ``xn_sim_meta`` and ``xn_sim_pending``.
"""

from __future__ import annotations

from simulator.db import Database

CASE_KINDS = ("reference", "exchange", "flowable")  # approval systems: their cases
KINDS = (*CASE_KINDS, "complaints")

_TYPES = {
    "sqlite": {"PK": "INTEGER PRIMARY KEY AUTOINCREMENT", "TS": "TEXT", "TS3": "TEXT",
               "MONEY": "DECIMAL(12,2)", "TEXT": "TEXT", "DOUBLE": "double precision",
               "TAIL": ""},
    "postgresql": {"PK": "BIGSERIAL PRIMARY KEY", "TS": "TIMESTAMP(0)", "TS3": "timestamp",
                   "MONEY": "DECIMAL(12,2)", "TEXT": "TEXT", "DOUBLE": "double precision",
                   "TAIL": ""},
    "mysql": {"PK": "BIGINT AUTO_INCREMENT PRIMARY KEY", "TS": "DATETIME", "TS3": "datetime(3)",
              "MONEY": "DECIMAL(12,2)", "TEXT": "TEXT", "DOUBLE": "double",
              "TAIL": " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"},
}

_BOOKKEEPING = """
CREATE TABLE xn_sim_meta (
    meta_key VARCHAR(64) NOT NULL PRIMARY KEY,
    meta_value VARCHAR(4000) NOT NULL
){TAIL};
CREATE TABLE xn_sim_pending (
    fact_id BIGINT NOT NULL PRIMARY KEY,
    due_at VARCHAR(40) NOT NULL,
    fact {TEXT} NOT NULL
){TAIL};
CREATE INDEX xn_sim_pending_due ON xn_sim_pending (due_at);
"""

_REFERENCE = """
CREATE TABLE appr_dept (
    id {PK},
    dept_code VARCHAR(32) NOT NULL UNIQUE,
    dept_name VARCHAR(100) NOT NULL,
    credit_code CHAR(18) NOT NULL,
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE TABLE appr_window (
    id {PK},
    window_no VARCHAR(32) NOT NULL UNIQUE,
    window_name VARCHAR(100) NOT NULL,
    dept_code VARCHAR(32) NOT NULL,
    hall_name VARCHAR(100) NOT NULL,
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE TABLE appr_staff (
    id {PK},
    staff_no VARCHAR(32) NOT NULL UNIQUE,
    staff_name VARCHAR(50) NOT NULL,
    dept_code VARCHAR(32) NOT NULL,
    window_no VARCHAR(32),
    post_name VARCHAR(50) NOT NULL,
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE TABLE appr_item (
    id {PK},
    item_code VARCHAR(64) NOT NULL UNIQUE,
    item_name VARCHAR(200) NOT NULL,
    dept_code VARCHAR(32) NOT NULL,
    legal_limit INTEGER NOT NULL,
    legal_unit VARCHAR(8) NOT NULL,
    promise_limit INTEGER NOT NULL,
    promise_unit VARCHAR(8) NOT NULL,
    charge_standard {MONEY} NOT NULL,
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE TABLE appr_case (
    id {PK},
    case_no VARCHAR(40) NOT NULL UNIQUE,
    item_code VARCHAR(64) NOT NULL,
    item_name VARCHAR(200) NOT NULL,
    dept_code VARCHAR(32) NOT NULL,
    dept_name VARCHAR(100) NOT NULL,
    window_no VARCHAR(32),
    accept_user_no VARCHAR(32),
    accept_user_name VARCHAR(50),
    applicant_name VARCHAR(200),
    applicant_type VARCHAR(8),
    case_type VARCHAR(8) NOT NULL,
    legal_limit INTEGER,
    legal_unit VARCHAR(8),
    promise_limit INTEGER,
    promise_unit VARCHAR(8),
    charge_standard {MONEY},
    accept_status VARCHAR(4) NOT NULL,
    refuse_reason VARCHAR(1000),
    accept_time {TS} NOT NULL,
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE TABLE appr_step (
    id {PK},
    case_no VARCHAR(40) NOT NULL,
    step_no INTEGER NOT NULL,
    step_code VARCHAR(16) NOT NULL,
    step_name VARCHAR(100) NOT NULL,
    handler_no VARCHAR(32),
    handler_name VARCHAR(50),
    action_code VARCHAR(4),
    opinion VARCHAR(2000),
    start_time {TS} NOT NULL,
    end_time {TS},
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE INDEX appr_step_case ON appr_step (case_no, step_no);
CREATE TABLE appr_supplement (
    id {PK},
    case_no VARCHAR(40) NOT NULL,
    supplement_no INTEGER NOT NULL,
    notice_time {TS} NOT NULL,
    reason VARCHAR(1000),
    materials VARCHAR(2000),
    receive_time {TS},
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE INDEX appr_supplement_case ON appr_supplement (case_no, supplement_no);
CREATE TABLE appr_special (
    id {PK},
    case_no VARCHAR(40) NOT NULL,
    special_no INTEGER NOT NULL,
    special_type VARCHAR(4) NOT NULL,
    special_name VARCHAR(50),
    reason VARCHAR(1000),
    time_limit INTEGER,
    limit_unit VARCHAR(8),
    extend_days INTEGER,
    start_time {TS} NOT NULL,
    end_time {TS},
    special_result VARCHAR(1000),
    special_fee {MONEY},
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE INDEX appr_special_case ON appr_special (case_no, special_no);
CREATE TABLE appr_result (
    id {PK},
    case_no VARCHAR(40) NOT NULL UNIQUE,
    result_code VARCHAR(4) NOT NULL,
    result_name VARCHAR(100),
    result_reason VARCHAR(1000),
    certificate_no VARCHAR(64),
    charge_amount {MONEY},
    finish_user_name VARCHAR(50),
    finish_time {TS} NOT NULL,
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE TABLE appr_rating (
    id {PK},
    case_no VARCHAR(40) NOT NULL,
    stars INTEGER NOT NULL,
    channel VARCHAR(16),
    content VARCHAR(1000),
    rate_time {TS} NOT NULL,
    rectify_time {TS},
    rectify_measure VARCHAR(1000),
    rectify_user_name VARCHAR(50),
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE INDEX appr_rating_case ON appr_rating (case_no);
"""

_EXCHANGE = """
CREATE TABLE up_pro_accept (
    CD_ID {PK},
    PROJID VARCHAR(50) NOT NULL,
    IMPLEMENTCODE VARCHAR(64) NOT NULL,
    SERVICENAME VARCHAR(200) NOT NULL,
    INFOTYPE VARCHAR(2) NOT NULL,
    ORGCODE VARCHAR(32) NOT NULL,
    ORGNAME VARCHAR(100) NOT NULL,
    WINDOWNO VARCHAR(32),
    WINDOWNAME VARCHAR(100),
    ACCEPTUSERID VARCHAR(32),
    ACCEPTUSERNAME VARCHAR(50),
    APPLYERNAME VARCHAR(200),
    APPLYERTYPE VARCHAR(2),
    ISACCEPT VARCHAR(2) NOT NULL,
    NOACCEPTREASON VARCHAR(1000),
    ACCEPTTIME {TS} NOT NULL,
    PROMISEVALUE INTEGER,
    PROMISETYPE VARCHAR(2),
    LEGALVALUE INTEGER,
    LEGALTYPE VARCHAR(2),
    PROMISEETIME {TS},
    CHARGESTANDARD {MONEY},
    CD_OPERATION CHAR(1) NOT NULL,
    CD_TIME {TS} NOT NULL,
    CD_BATCH VARCHAR(32)
){TAIL};
CREATE INDEX up_pro_accept_projid ON up_pro_accept (PROJID);
CREATE TABLE up_pro_process (
    CD_ID {PK},
    PROJID VARCHAR(50) NOT NULL,
    SN INTEGER NOT NULL,
    NODECODE VARCHAR(16),
    NODENAME VARCHAR(100) NOT NULL,
    NODEACTION VARCHAR(2) NOT NULL,
    HANDLERID VARCHAR(32),
    HANDLERNAME VARCHAR(50),
    HANDLEOPINION VARCHAR(2000),
    NODESTARTTIME {TS} NOT NULL,
    NODEENDTIME {TS},
    CD_OPERATION CHAR(1) NOT NULL,
    CD_TIME {TS} NOT NULL,
    CD_BATCH VARCHAR(32)
){TAIL};
CREATE INDEX up_pro_process_projid ON up_pro_process (PROJID, SN);
CREATE TABLE up_pro_special_procedure (
    CD_ID {PK},
    PROJID VARCHAR(50) NOT NULL,
    SN INTEGER NOT NULL,
    SPECIALTYPE VARCHAR(2) NOT NULL,
    SPECIALNAME VARCHAR(50),
    SPECIALREASON VARCHAR(1000),
    SPECIALLIMIT INTEGER,
    SPECIALLIMITUNIT VARCHAR(2),
    EXTENDDAYS INTEGER,
    STARTTIME {TS} NOT NULL,
    ENDTIME {TS},
    SPECIALRESULT VARCHAR(1000),
    SPECIALFEE {MONEY},
    CD_OPERATION CHAR(1) NOT NULL,
    CD_TIME {TS} NOT NULL,
    CD_BATCH VARCHAR(32)
){TAIL};
CREATE INDEX up_pro_special_projid ON up_pro_special_procedure (PROJID, SN);
CREATE TABLE up_pro_result (
    CD_ID {PK},
    PROJID VARCHAR(50) NOT NULL,
    RESULTCODE VARCHAR(2) NOT NULL,
    RESULTNAME VARCHAR(100),
    RESULTREASON VARCHAR(1000),
    CERTIFICATENO VARCHAR(64),
    CHARGEAMOUNT {MONEY},
    FINISHUSERNAME VARCHAR(50),
    FINISHTIME {TS} NOT NULL,
    CD_OPERATION CHAR(1) NOT NULL,
    CD_TIME {TS} NOT NULL,
    CD_BATCH VARCHAR(32)
){TAIL};
CREATE INDEX up_pro_result_projid ON up_pro_result (PROJID);
CREATE TABLE up_pro_evaluation (
    CD_ID {PK},
    PROJID VARCHAR(50) NOT NULL,
    EVALEVEL VARCHAR(2) NOT NULL,
    EVACHANNEL VARCHAR(16),
    EVACONTENT VARCHAR(1000),
    EVATIME {TS} NOT NULL,
    RECTIFYTIME {TS},
    RECTIFYMEASURE VARCHAR(1000),
    RECTIFYUSERNAME VARCHAR(50),
    CD_OPERATION CHAR(1) NOT NULL,
    CD_TIME {TS} NOT NULL,
    CD_BATCH VARCHAR(32)
){TAIL};
"""

# Column lists as in Flowable 6's create scripts; only the types vary by database.
_FLOWABLE = """
create table ACT_HI_PROCINST (
    ID_ varchar(64) not null,
    REV_ integer default 1,
    PROC_INST_ID_ varchar(64) not null,
    BUSINESS_KEY_ varchar(255),
    PROC_DEF_ID_ varchar(64) not null,
    START_TIME_ {TS3} not null,
    END_TIME_ {TS3},
    DURATION_ bigint,
    START_USER_ID_ varchar(255),
    START_ACT_ID_ varchar(255),
    END_ACT_ID_ varchar(255),
    SUPER_PROCESS_INSTANCE_ID_ varchar(64),
    DELETE_REASON_ varchar(4000),
    TENANT_ID_ varchar(255) default '',
    NAME_ varchar(255),
    CALLBACK_ID_ varchar(255),
    CALLBACK_TYPE_ varchar(255),
    REFERENCE_ID_ varchar(255),
    REFERENCE_TYPE_ varchar(255),
    PROPAGATED_STAGE_INST_ID_ varchar(255),
    BUSINESS_STATUS_ varchar(255),
    primary key (ID_),
    unique (PROC_INST_ID_)
){TAIL};
create index ACT_IDX_HI_PRO_INST_END on ACT_HI_PROCINST(END_TIME_);
create index ACT_IDX_HI_PRO_I_BUSKEY on ACT_HI_PROCINST(BUSINESS_KEY_);
create table ACT_HI_TASKINST (
    ID_ varchar(64) not null,
    REV_ integer default 1,
    PROC_DEF_ID_ varchar(64),
    TASK_DEF_ID_ varchar(64),
    TASK_DEF_KEY_ varchar(255),
    PROC_INST_ID_ varchar(64),
    EXECUTION_ID_ varchar(64),
    SCOPE_ID_ varchar(255),
    SUB_SCOPE_ID_ varchar(255),
    SCOPE_TYPE_ varchar(255),
    SCOPE_DEFINITION_ID_ varchar(255),
    STAGE_INSTANCE_ID_ varchar(255),
    NAME_ varchar(255),
    PARENT_TASK_ID_ varchar(64),
    DESCRIPTION_ varchar(4000),
    OWNER_ varchar(255),
    ASSIGNEE_ varchar(255),
    START_TIME_ {TS3} not null,
    CLAIM_TIME_ {TS3},
    END_TIME_ {TS3},
    DURATION_ bigint,
    DELETE_REASON_ varchar(4000),
    PRIORITY_ integer,
    DUE_DATE_ {TS3},
    FORM_KEY_ varchar(255),
    CATEGORY_ varchar(255),
    TENANT_ID_ varchar(255) default '',
    LAST_UPDATED_TIME_ {TS3},
    primary key (ID_)
){TAIL};
create index ACT_IDX_HI_TASK_INST_PROCINST on ACT_HI_TASKINST(PROC_INST_ID_);
create table ACT_HI_VARINST (
    ID_ varchar(64) not null,
    REV_ integer default 1,
    PROC_INST_ID_ varchar(64),
    EXECUTION_ID_ varchar(64),
    TASK_ID_ varchar(64),
    NAME_ varchar({NAMELEN}) not null,
    VAR_TYPE_ varchar(100),
    SCOPE_ID_ varchar({NAMELEN}),
    SUB_SCOPE_ID_ varchar({NAMELEN}),
    SCOPE_TYPE_ varchar({NAMELEN}),
    BYTEARRAY_ID_ varchar(64),
    DOUBLE_ {DOUBLE},
    LONG_ bigint,
    TEXT_ varchar(4000),
    TEXT2_ varchar(4000),
    CREATE_TIME_ {TS3},
    LAST_UPDATED_TIME_ {TS3},
    primary key (ID_)
){TAIL};
create index ACT_IDX_HI_PROCVAR_NAME_TYPE on ACT_HI_VARINST(NAME_, VAR_TYPE_);
create index ACT_IDX_HI_PROCVAR_PROC_INST on ACT_HI_VARINST(PROC_INST_ID_);
create index ACT_IDX_HI_PROCVAR_TASK_ID on ACT_HI_VARINST(TASK_ID_);
"""

_COMPLAINTS = """
CREATE TABLE ts_complaint (
    id {PK},
    ticket_no VARCHAR(32) NOT NULL UNIQUE,
    channel VARCHAR(20) NOT NULL,
    complainant VARCHAR(50),
    target_dept_code VARCHAR(32) NOT NULL,
    target_dept_name VARCHAR(100) NOT NULL,
    target_staff_no VARCHAR(32),
    target_staff_name VARCHAR(50),
    case_no VARCHAR(64),
    content {TEXT} NOT NULL,
    status VARCHAR(2) NOT NULL,
    register_time {TS} NOT NULL,
    accept_time {TS},
    reply_time {TS},
    finish_time {TS},
    verify_result VARCHAR(2),
    reply_content {TEXT},
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE INDEX ts_complaint_updated ON ts_complaint (updated_at);
CREATE TABLE gk_apply (
    id {PK},
    apply_no VARCHAR(32) NOT NULL UNIQUE,
    dept_code VARCHAR(32) NOT NULL,
    dept_name VARCHAR(100) NOT NULL,
    applicant_name VARCHAR(100) NOT NULL,
    apply_way VARCHAR(20) NOT NULL,
    content {TEXT} NOT NULL,
    receive_time {TS} NOT NULL,
    supplement_notice_time {TS},
    supplement_receive_time {TS},
    consult_start_time {TS},
    consult_end_time {TS},
    extend_time {TS},
    extend_days INTEGER,
    reply_time {TS},
    reply_type VARCHAR(2),
    created_at {TS} NOT NULL,
    updated_at {TS} NOT NULL
){TAIL};
CREATE INDEX gk_apply_updated ON gk_apply (updated_at);
"""

TABLES = {
    "reference": ("appr_dept", "appr_window", "appr_staff", "appr_item", "appr_case", "appr_step",
                  "appr_supplement", "appr_special", "appr_result", "appr_rating"),
    "exchange": ("up_pro_accept", "up_pro_process", "up_pro_special_procedure", "up_pro_result",
                 "up_pro_evaluation"),
    "flowable": ("ACT_HI_PROCINST", "ACT_HI_TASKINST", "ACT_HI_VARINST"),
    "complaints": ("ts_complaint", "gk_apply"),
}


def ddl(kind: str, dialect: str) -> list[str]:
    """The CREATE statements for ``kind`` on ``dialect`` (bookkeeping tables included)."""
    if kind not in KINDS:
        raise ValueError(f"unknown schema {kind!r}: use one of {', '.join(KINDS)}")
    types = dict(_TYPES[dialect])
    types["NAMELEN"] = "191" if dialect == "mysql" else "255"
    body = {"reference": _REFERENCE, "exchange": _EXCHANGE, "flowable": _FLOWABLE,
            "complaints": _COMPLAINTS}[kind]
    text = (body + _BOOKKEEPING).format(**types)
    return [s.strip() for s in text.split(";") if s.strip()]


def create(db: Database, kind: str) -> None:
    """Create the tables of ``kind``; raises ValueError if any of them already exists."""
    existing = db.tables()
    clash = [t for t in (*TABLES[kind], "xn_sim_meta") if t.lower() in existing]
    if clash:
        raise ValueError(f"{db.url.database}: tables already exist: {', '.join(clash)} "
                         "(use a fresh database, or drop them first)")
    for statement in ddl(kind, db.dialect):
        db.execute(statement).close()
    db.commit()
