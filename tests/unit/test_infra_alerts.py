"""The alerts and the workbook (infra/modules/alerts.bicep, infra/alerts/*.kql) query only what the app really logs.

The app logs through `logging` with `extra={...}` (shared/run.py Run.step and Run.audit, shared/observation.py,
shared/reconcile.py, shared/lifecycle.py, functions/): shared/telemetry.py hands its logger to Azure Monitor's
OpenTelemetry exporter, which turns each record into a row of `traces` whose customDimensions are the record's extra
fields, as strings, plus `logger_name`. So:

- the fields and the logged message formats are read from the code (an AST scan of every logging call), never listed
  by hand, and every customDimensions field a query names must be one of them;
- every value a query compares a field with must be one the code can log in it (step names from the calls of
  Run.step and Run.audit, outcomes from StepOutcome, phases from Phase, error codes from shared/errors.py);
- every `parse message with` pattern must fit a logged message format;
- and records made by the app's own code (Run.step, Run.move_to, Run.audit, the HTTP adapter), passed through the
  real OpenTelemetry handler and Azure Monitor exporter, are selected by the queries' filters as intended.

What this cannot show is Azure: that Application Insights stores these envelopes as `traces` rows with these
customDimensions, and that the Functions host records a failed function's Python error class in `exceptions`.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from shared.model import Phase, StepOutcome
from shared.policy import Decision
from shared.telemetry import APP_LOGGER
from tests.unit.test_infra import INFRA, ROOT, template

QUERIES = INFRA / "alerts"
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
# Properties the exporter adds to every record itself (shown by test_the_exporter_makes_extra_fields_custom_dimensions).
EXPORTER_PROPERTIES = {"logger_name"}
Segments = list[tuple[str, str]]  # ("text", literal) or ("any", "")


@dataclass
class Logged:
    formats: list[Segments] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    literal_values: dict[str, set[str]] = field(default_factory=dict)
    # extra field -> (function, parameter) it is logged from, e.g. "step" -> ("step", "step") in Run.step
    from_parameters: dict[str, set[tuple[str, int, str]]] = field(default_factory=dict)
    code_formats: list[str] = field(default_factory=list)  # formats whose first argument is `<error>.code`


def python_files() -> Iterator[Path]:
    for folder in ("shared", "functions"):
        yield from sorted((ROOT / folder).rglob("*.py"))
    yield ROOT / "function_app.py"


def format_segments(text: str) -> Segments:
    """A %-format as literal text and placeholders."""
    segments: Segments = []
    for piece in re.split(r"(%[-#0 +]*\d*(?:\.\d+)?[sdrfi])", text.replace("%%", "%")):
        if re.fullmatch(r"%[-#0 +]*\d*(?:\.\d+)?[sdrfi]", piece):
            segments.append(("any", ""))
        elif piece:
            segments.append(("text", piece))
    return segments


def fstring_segments(node: ast.expr) -> Segments | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [("text", node.value)]
    if isinstance(node, ast.JoinedStr):
        return [
            ("text", part.value) if isinstance(part, ast.Constant) else ("any", "")
            for part in node.values
            if not (isinstance(part, ast.Constant) and part.value == "")
        ]
    return None


@cache
def logged() -> Logged:
    """Every logging call of the app: its format, its extra fields, and where each field's value comes from."""
    found = Logged()
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in LOG_METHODS or not node.args:
                continue
            if not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("log", "logger", "logging")):
                continue
            message = node.args[1] if node.func.attr == "log" and len(node.args) > 1 else node.args[0]
            if isinstance(message, ast.Constant) and isinstance(message.value, str):
                found.formats.append(format_segments(message.value))
                arguments = node.args[2:] if node.func.attr == "log" else node.args[1:]
                first = arguments[0] if arguments else None
                if isinstance(first, ast.Attribute) and first.attr == "code":
                    found.code_formats.append(message.value)
            for keyword in node.keywords:
                if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                    enclosing = next(f for f in functions if f.lineno <= node.lineno <= (f.end_lineno or 0))
                    record_extra(found, keyword.value, enclosing)
    return found


def record_extra(found: Logged, extra: ast.Dict, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    parameters = [argument.arg for argument in function.args.args]
    for key, value in zip(extra.keys, extra.values, strict=True):
        assert isinstance(key, ast.Constant) and isinstance(key.value, str), "extra keys are literal strings"
        found.fields.add(key.value)
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.literal_values.setdefault(key.value, set()).add(value.value)
        source = value.value if isinstance(value, ast.Attribute) and value.attr == "value" else value
        if isinstance(source, ast.Name) and source.id in parameters:
            # Positions as a method sees them: `self` is not passed at the call site.
            position = parameters.index(source.id) - (1 if parameters[:1] == ["self"] else 0)
            found.from_parameters.setdefault(key.value, set()).add((function.name, position, source.id))


def call_arguments(function: str, position: int, keyword: str) -> Iterator[ast.expr]:
    """The arguments every call of `<anything>.function(...)` passes at `position` (or as `keyword`)."""
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == function:
                if len(node.args) > position:
                    yield node.args[position]
                yield from (k.value for k in node.keywords if k.arg == keyword)


@cache
def step_patterns() -> list[Segments]:
    """Every step name the app can log: literal `step` extras, and what the callers of the functions that log their
    parameter as `step` (Run.step, Run.audit) pass."""
    patterns = [[("text", value)] for value in logged().literal_values.get("step", set())]
    for function, position, name in logged().from_parameters["step"]:
        for argument in call_arguments(function, position, name):
            segments = fstring_segments(argument)
            if segments is not None:
                patterns.append(segments)
            elif isinstance(argument, ast.Name | ast.Attribute):
                patterns.append([("any", "")])  # a computed name (say Run.mutate's `name`): any step
    return patterns


def known_values(dimension: str) -> set[str] | None:
    """The values the app can log in `dimension`; None when any text can be (a link's name)."""
    if dimension == "outcome":
        assert ("step", 1, "outcome") in logged().from_parameters["outcome"], "Run.step logs outcome.value"
        return {outcome.value for outcome in StepOutcome}
    if dimension == "decision":
        values = set(logged().literal_values.get("decision", set()))
        for function, position, name in logged().from_parameters["decision"]:
            for argument in call_arguments(function, position, name):
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    values.add(argument.value)
        return values | {decision.value for decision in Decision}  # `verdict.decision.value` and the like
    if dimension == "logger_name":
        return {APP_LOGGER}
    if dimension in ("link", "duration_ms"):
        return None
    return set(logged().literal_values.get(dimension, set()))


def could_start(segments: Segments, text: str) -> bool:
    """Whether some string of the pattern starts with `text`."""
    if not text:
        return True
    if not segments:
        return False
    (kind, literal), rest = segments[0], segments[1:]
    if kind == "text":
        shared = min(len(literal), len(text))
        if literal[:shared] != text[:shared]:
            return False
        return could_start(rest, text[len(literal) :]) if len(text) > len(literal) else True
    return any(could_start(rest, text[cut:]) for cut in range(len(text) + 1))


def could_end(segments: Segments, text: str) -> bool:
    return could_start([(kind, literal[::-1]) for kind, literal in reversed(segments)], text[::-1])


def full_match(segments: Segments, text: str) -> bool:
    pattern = "".join(re.escape(literal) if kind == "text" else ".*" for kind, literal in segments)
    return re.fullmatch(pattern, text, re.DOTALL) is not None


def query_files() -> list[Path]:
    return sorted(QUERIES.glob("*.kql"))


def kql(path: Path) -> str:
    """The query without its comments."""
    return "\n".join(
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("//")
    )


def aliases(query: str) -> dict[str, str]:
    """`alias = tostring(customDimensions.field)` (or todouble, ...): alias -> field."""
    return dict(re.findall(r"\b(\w+) = to\w+\(customDimensions\.(\w+)\)", query))


def comparisons(query: str, names: dict[str, str] | None = None) -> Iterator[tuple[str, str, str]]:
    """(field, operator, literal) for every `alias op "literal"` and `tostring(customDimensions.x) op "literal"`
    (aliases as `names` gives them, else as the query itself binds them)."""
    names = aliases(query) if names is None else names
    pattern = r'(?:\b(\w+)|to\w+\(customDimensions\.(\w+)\))\s+(==|!=|startswith|endswith|has)\s+"([^"]*)"'
    for alias, direct, operator, literal in re.findall(pattern, query):
        if direct:
            yield direct, operator, literal
        elif alias in names:
            yield names[alias], operator, literal


def parse_patterns(query: str) -> Iterator[Segments]:
    for match in re.finditer(r"\| parse message with (.+)", query):
        segments: Segments = []
        for literal, _column in re.findall(r'"([^"]*)"|(\*|\w+)', match[1]):
            segments.append(("text", literal) if literal else ("any", ""))
        yield segments


@pytest.mark.parametrize("path", query_files(), ids=[path.name for path in query_files()])
def test_every_custom_dimension_a_query_names_is_a_field_the_app_logs(path: Path) -> None:
    query = kql(path)
    named = set(re.findall(r"customDimensions\.(\w+)", query)) | set(re.findall(r'customDimensions\["(\w+)"\]', query))
    assert named, f"{path.name} reads no custom dimension"
    assert named <= logged().fields | EXPORTER_PROPERTIES, f"{path.name}: {sorted(named - logged().fields)}"
    assert "logger_name" in named, "only the app's own records (the host logs the same lines without the fields)"


@pytest.mark.parametrize("path", query_files(), ids=[path.name for path in query_files()])
def test_every_value_a_query_compares_a_field_with_is_one_the_app_logs(path: Path) -> None:
    phases = {phase.value for phase in Phase}
    for dimension, operator, literal in comparisons(kql(path)):
        if dimension == "step":
            patterns = step_patterns()
            check = {"==": full_match, "!=": full_match, "startswith": could_start, "endswith": could_end}[operator]
            assert any(check(pattern, literal) for pattern in patterns), f"{path.name}: no step {operator} {literal!r}"
            if " -> " in literal:
                assert literal.rsplit(" -> ", 1)[1] in phases, f"{path.name}: {literal!r} names no phase"
        else:
            known = known_values(dimension)
            assert known is not None, f"{path.name}: compares {dimension}, which holds any text"
            assert literal in known, f"{path.name}: {dimension} {operator} {literal!r}, never logged"


@pytest.mark.parametrize("path", query_files(), ids=[path.name for path in query_files()])
def test_every_parse_pattern_fits_a_logged_message_format(path: Path) -> None:
    for segments in parse_patterns(kql(path)):
        sample = "".join(literal if kind == "text" else "x" for kind, literal in segments[:-1])
        sample += segments[-1][1] if segments[-1][0] == "text" else ""
        assert any(could_start(format_, sample) for format_ in logged().formats), f"{path.name}: {segments}"


@cache
def error_classes() -> dict[str, tuple[str, str]]:
    """shared/errors.py: class name -> (its default_code, its base class)."""
    classes = {}
    for node in ast.parse((ROOT / "shared" / "errors.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef):
            code = next(
                (
                    statement.value.value
                    for statement in node.body
                    if isinstance(statement, ast.Assign | ast.AnnAssign)
                    and isinstance(statement.value, ast.Constant)
                    and any(
                        isinstance(target, ast.Name) and target.id == "default_code"
                        for target in (statement.targets if isinstance(statement, ast.Assign) else [statement.target])
                    )
                ),
                "",
            )
            base = node.bases[0].id if node.bases and isinstance(node.bases[0], ast.Name) else ""
            classes[node.name] = (code, base)
    return classes


def is_temporary(name: str) -> bool:
    while name:
        if name == "TemporaryError":
            return True
        name = error_classes().get(name, ("", ""))[1]
    return False


def dynamic_list(query: str, name: str) -> list[str]:
    match = re.search(rf"let {name} = dynamic\(\[(.*?)\]\);", query)
    assert match, name
    return re.findall(r'"([^"]+)"', match[1])


def test_the_budget_alert_matches_the_codes_and_classes_of_the_budget_errors() -> None:
    query = kql(QUERIES / "budget-exhausted.kql")
    codes, errors = dynamic_list(query, "budgetCodes"), dynamic_list(query, "budgetErrors")
    classes = error_classes()
    assert {classes[name][0] for name in errors} == set(codes), "each class's code, and no other"
    for name in errors:
        assert is_temporary(name), f"{name}: a budget error is temporary (503, retried)"
    assert {"EmqxRateBudgetExhausted", "ArmThrottled"} <= set(codes)
    # The HTTP adapter logs a 5xx answer's error as "<code>: <message>", which `parse message with code ": " *` reads.
    assert "%s: %s" in logged().code_formats


# The records the app's own code logs, through the real OpenTelemetry handler and Azure Monitor exporter.


class Exported:
    """The app logger's records as Application Insights gets them: message and customDimensions of each envelope."""

    def __init__(self) -> None:
        # The handler azure-monitor-opentelemetry's configure_azure_monitor puts on the app's logger.
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

        self.provider = LoggerProvider()
        self.exporter = InMemoryLogRecordExporter()
        self.provider.add_log_record_processor(SimpleLogRecordProcessor(self.exporter))
        self.handler = LoggingHandler(logger_provider=self.provider)
        self.logger = logging.getLogger(APP_LOGGER)
        self.level = self.logger.level
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.INFO)

    def rows(self) -> list[dict[str, Any]]:
        from azure.monitor.opentelemetry.exporter.export.logs._exporter import _convert_log_to_envelope

        found = []
        for record in self.exporter.get_finished_logs():
            envelope = _convert_log_to_envelope(record)
            assert envelope.data is not None and envelope.data.base_data is not None
            data: Any = envelope.data.base_data
            found.append({"message": data.message, "customDimensions": dict(data.properties or {})})
        return found

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        self.provider.shutdown()


@pytest.fixture
def exported() -> Iterator[Exported]:
    capture = Exported()
    try:
        yield capture
    finally:
        capture.close()


def where_filters(query: str, names: dict[str, str] | None = None) -> list[list[tuple[str, str, str]]]:
    """The `| where` lines made only of `field op "literal"` and `isnotempty(field)` clauses: (field, op, literal)."""
    names = aliases(query) if names is None else names
    filters = []
    for line in re.findall(r"\| where (.+)", query):
        clauses = []
        for clause in (part.strip() for part in line.split(" and ")):
            if (match := re.fullmatch(r"isnotempty\((\w+)\)", clause)) and match[1] in names:
                clauses.append((names[match[1]], "isnotempty", ""))
            elif found := list(comparisons(clause, names)):
                clauses.append(found[0])
            else:
                break
        else:
            filters.append(clauses)
    return filters


def keeps(row: dict[str, Any], clause: tuple[str, str, str]) -> bool:
    dimension, operator, literal = clause
    value = str(row["customDimensions"].get(dimension, ""))
    return {
        "==": value == literal,
        "!=": value != literal,
        "startswith": value.startswith(literal),
        "endswith": value.endswith(literal),
        "has": literal.lower() in value.lower(),
        "isnotempty": value != "",
    }[operator]


def selected(query: str, rows: list[dict[str, Any]], names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The rows every fully understood `| where` line of the query keeps (the others are left to Azure)."""
    for clauses in where_filters(query, names):
        rows = [row for row in rows if all(keeps(row, clause) for clause in clauses)]
    return rows


def let_block(query: str, name: str) -> str:
    match = re.search(rf"let {name} = (.*?);\n", query, re.DOTALL)
    assert match, name
    return match[1]


def kql_parse(segments: Segments, text: str) -> list[str] | None:
    """KQL's simple-mode `parse`: each column takes the text up to the next literal; a last column, the rest."""
    parts = [re.escape(literal) if kind == "text" else "(.*?)" for kind, literal in segments]
    if segments[-1][0] == "any":
        parts[-1] = "(.*)"
    match = re.match("".join(parts), text, re.DOTALL)
    return None if match is None else list(match.groups())


def make_run(phase: Phase) -> Any:
    from tests.unit.runs import Clock, deleting_run

    run = deleting_run(Clock())
    run.link.status.phase = phase
    return run


def test_the_exporter_makes_extra_fields_custom_dimensions(exported: Exported) -> None:
    make_run(Phase.RUNNING).step("redis test", StepOutcome.FAILED, "refused", 0.0)
    [row] = exported.rows()
    assert row["message"] == "link demo: redis test failed (refused, 0 ms)"
    dimensions = row["customDimensions"]
    assert {"link", "step", "outcome", "duration_ms"} <= set(dimensions)
    assert dimensions["logger_name"] == APP_LOGGER
    assert dimensions["duration_ms"] == "0.0", "every custom dimension is a string"


def test_the_failed_link_alert_selects_a_move_to_failed_and_no_other_move(exported: Exported) -> None:
    make_run(Phase.RUNNING).move_to(Phase.FAILED, "EMQX reports the PrivateLink failed")
    make_run(Phase.AWAITING_APPROVAL).move_to(Phase.RUNNING, "EMQX reports the PrivateLink running")
    rows = [row for row in exported.rows() if row["customDimensions"].get("step", "").startswith("phase ")]
    assert len(rows) == 2
    [chosen] = selected(kql(QUERIES / "link-failed.kql"), rows)
    assert chosen["customDimensions"]["step"] == "phase running -> failed"


def test_the_redis_alert_reads_the_tests_own_records_not_the_health_change(exported: Exported) -> None:
    from shared.model import Health, RedisTestResult
    from shared.observation import _record_test

    run = make_run(Phase.RUNNING)
    run.link.status.health = Health.HEALTHY
    _record_test(run, RedisTestResult(at=datetime(2026, 12, 3, tzinfo=UTC), passed=False, reason="timeout"), 0.0)
    _record_test(run, RedisTestResult(at=datetime(2026, 12, 3, 1, tzinfo=UTC), passed=False, reason="timeout"), 0.0)
    _record_test(run, RedisTestResult(at=datetime(2026, 12, 3, 2, tzinfo=UTC), passed=True), 0.0)
    _record_test(run, RedisTestResult(at=datetime(2026, 12, 3, 3, tzinfo=UTC), passed=True), 0.0)
    rows = exported.rows()
    assert any("health" in row["customDimensions"] for row in rows), "the health change is logged too"
    outcomes = [row["customDimensions"]["outcome"] for row in selected(kql(QUERIES / "redis-failing.kql"), rows)]
    assert outcomes == ["failed", "failed", "succeeded"], (
        "each failure, and the pass after them; not a pass after a pass"
    )
    for name in ("redis-failing.kql", "workbook-redis-tests.kql"):
        assert len(selected(kql(QUERIES / name), rows)) == 3, name


def test_the_pending_alert_reads_the_connection_the_app_left_pending(exported: Exported) -> None:
    make_run(Phase.AWAITING_APPROVAL).audit(
        "decide connection", "pe-emqx.1a2b", Decision.LEAVE.value, "its subscription is not EMQX's"
    )
    make_run(Phase.PROVISIONED).move_to(Phase.REGISTERING, "registration with EMQX begins")
    make_run(Phase.REGISTERING).move_to(Phase.AWAITING_APPROVAL, "EMQX has its PrivateLink")
    query = kql(QUERIES / "connection-pending.kql")
    names = aliases(query)
    rows = selected(let_block(query, "app"), exported.rows(), names)
    [left] = selected(let_block(query, "leftPending"), rows, names)
    [pattern] = parse_patterns(let_block(query, "leftPending"))
    assert kql_parse(pattern, left["message"]) == ["demo", "pe-emqx.1a2b", "leave (its subscription is not EMQX's)"]
    assert left["customDimensions"]["decision"] == "leave"
    phases = [row["customDimensions"]["step"] for row in selected(let_block(query, "awaitingApproval"), rows, names)]
    assert phases == ["phase provisioned -> registering", "phase registering -> awaitingApproval"]
    assert [step for step in phases if step.endswith(" -> awaitingApproval")] == phases[1:]


@pytest.mark.parametrize("error", ["RateBudgetExhaustedError", "ArmThrottledError", "EmqxThrottledError"])
async def test_the_budget_alert_reads_the_code_the_http_api_logs(exported: Exported, error: str) -> None:
    from functions import http
    from shared import errors

    raised = getattr(errors, error)("budget spent")

    async def run() -> Any:
        raise raised

    response = await http._answered(run)
    assert response.status_code == 503
    query = kql(QUERIES / "budget-exhausted.kql")
    rows = selected(let_block(query, "answered"), exported.rows(), aliases(query))
    [pattern] = parse_patterns(let_block(query, "answered"))
    assert [kql_parse(pattern, row["message"]) for row in rows] == [[raised.code, "budget spent"]]
    assert raised.code in dynamic_list(query, "budgetCodes")


def test_every_query_file_is_used_and_its_placeholders_filled() -> None:
    alerts = (INFRA / "modules" / "alerts.bicep").read_text(encoding="utf-8")
    for path in query_files():
        assert f"loadTextContent('../alerts/{path.name}')" in alerts, f"{path.name} is not used"
        for placeholder in set(re.findall(r"\{\{\w+\}\}", path.read_text(encoding="utf-8"))):
            assert f"'{placeholder}'" in alerts, f"{path.name}: {placeholder} is never replaced"


def test_the_alert_rules_split_by_a_column_their_query_returns_and_notify_the_optional_action_group() -> None:
    module = template("modules/alerts.bicep")
    rules = module["variables"]["rules"]["value"]
    assert {rule["name"] for rule in rules} == {
        "link-failed",
        "redis-failing",
        "connection-pending",
        "budget-exhausted",
    }
    for rule in rules:
        query = kql(QUERIES / f"{rule['name']}.kql")
        # The rows the query ends with carry the dimension: its last summarize groups by it, or it projects it.
        tail = query[query.rindex("| summarize") :]
        assert re.search(rf"\bby\b[^|]*\b{rule['dimension']}\b|\| project {rule['dimension']}\b", tail), rule["name"]
    alert = module["resources"]["alertRules"]["config"]["config"]
    assert alert["kind"] == "LogAlert"
    assert alert["properties"]["criteria"]["allOf"][0]["timeAggregation"] == "Count"
    group = module["resources"]["actionGroup"]["config"]
    empty_email = {"function": {"type": "empty", "parameters": {"item_to_test": "alertEmail"}}}
    assert group["condition"] == {"operator": {"type": "not", "operands": {"bool_value": empty_email}}}
    main = template("main.bicep")["modules"]["alerts"]["config"]["params"]
    assert (main["alertEmail"], main["pendingMinutes"], main["redisFailures"]) == (
        "alertEmail",
        "alertPendingMinutes",
        "alertRedisFailures",
    )


def test_the_workbook_shows_each_links_phase_and_the_redis_test_history() -> None:
    workbook = template("modules/alerts.bicep")["resources"]["workbook"]["config"]
    assert workbook["kind"] == "shared"
    data = workbook["properties"]["serializedData"]["function"]["parameters"]["value_to_convert"]
    assert data["version"] == "Notebook/1.0"
    text = json.dumps(data)
    for name in ("workbook-phases.kql", "workbook-redis-tests.kql", "workbook-redis-failures.kql"):
        assert name in text
