"""JUnit for CI: a case for the verdict, one per SLA criterion and one per k6 threshold, each counted once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from reports.exports import junit_export

Build = Callable[[str], dict[str, Any]]
SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit.xsd"))))


def suites(document: dict[str, Any]) -> dict[str | None, Any]:
    root = etree.fromstring(junit_export(document))
    SCHEMA.assertValid(root)
    return {suite.get("name"): suite for suite in root.findall("testsuite")} | {"": root}


def test_a_failed_verdict_is_a_failing_case_and_thresholds_are_not_counted_twice(result_document: Build) -> None:
    document = result_document("failed")
    found = suites(document)
    assert list(found) == ["Verdict", "SLA (Shop)", "k6 thresholds", ""]
    verdict = found["Verdict"].find("testcase/failure")
    assert verdict is not None and verdict.text == "\n".join(document["verdict"]["reasons"])
    assert verdict.get("message").startswith("Failed: Success rate 80.00 % misses >= 95.00 %.")
    sla_cases = [case.get("name") for case in found["SLA (Shop)"].findall("testcase")]
    assert sla_cases == ["Success rate", "Error rate", "p90 latency", "Dropped iterations"]
    assert [case.get("name") for case in found["k6 thresholds"].findall("testcase")] == ["http_req_duration: p(95)<1"]
    error_rate = found["SLA (Shop)"].find("testcase[@name='Error rate']/failure")
    assert error_rate.get("message") == "Error rate 20.00 % misses <= 10.00 %"  # the verdict's wording
    assert error_rate.text == "Error rate 20.00 % misses <= 10.00 % (14.7 of 35 points)"
    # failing: the verdict, success rate, error rate and the one threshold
    assert (found[""].get("tests"), found[""].get("failures"), found[""].get("errors")) == ("6", "4", "0")


def test_a_criterion_with_no_value_fails_with_a_readable_message(result_document: Build) -> None:
    document = result_document("failed")
    dropped = document["sla"]["criteria"][-1]
    assert dropped["kind"] == "dropped"
    document["sla"]["criteria"][-1] = {**dropped, "value": None, "met": False}
    failure = suites(document)["SLA (Shop)"].find("testcase[@name='Dropped iterations']/failure")
    assert failure.get("message").startswith("Dropped iterations could not be measured (share of the planned iterations")
    assert failure.text.endswith("so it is missed (caps the grade)")


def test_a_run_not_graded_is_an_error_and_a_passed_one_has_no_failure(result_document: Build) -> None:
    not_graded = suites(result_document("not_graded"))
    error = not_graded["Verdict"].find("testcase/error")
    assert error is not None and error.get("message").startswith("Not graded: The run was cancelled after 2.4 s")
    assert not_graded[""].get("errors") == "1"
    passed = suites(result_document("passed"))
    assert len(passed["Verdict"].find("testcase")) == 0 and passed[""].get("failures") == "0"
