"""Leases carry their pipeline in their name (a pooled container's labels were fixed before it was leased)."""

from __future__ import annotations

from sigma_exec import constants as c
from sigma_exec.pool import lease_name, lease_prefix, leased_pipeline, pipeline_of
from sigma_exec.prepared import prepared_key
from sigma_exec.reaper import reap_reason
from sigma_exec.settings import Settings
from sigma_exec.spec import build_container_spec


def test_a_lease_names_its_project_and_pipeline() -> None:
    name = lease_name("proj", "0b3e-41c2.attempt_2")
    assert name.startswith(lease_prefix("proj"))
    assert leased_pipeline(name) == "0b3e-41c2.attempt_2" and leased_pipeline("/" + name) == "0b3e-41c2.attempt_2"


def test_an_unnameable_pipeline_id_is_left_out_of_the_name() -> None:
    for pipeline in ("has space", "-leading-dash", "x" * 129, "ünïcode", "a/b", None, ""):
        name = lease_name("proj", pipeline)
        assert leased_pipeline(name) == ""
        assert name.startswith(lease_prefix("proj"))


def test_other_names_lease_nothing() -> None:
    for name in ("sigma-pool-abc", "sigma-spare-0123", "sigma-lease-short--x", "sigma-pproj-pipe", ""):
        assert leased_pipeline(name) == ""


def test_the_label_wins_over_the_name() -> None:
    leased = {"Labels": {c.LABEL_PIPELINE: ""}, "Names": [f"/{lease_name('p', 'pipe-9')}"]}
    labelled = {"Labels": {c.LABEL_PIPELINE: "pipe-1"}, "Names": [f"/{lease_name('p', 'pipe-9')}"]}
    assert pipeline_of(leased) == "pipe-9" and pipeline_of(labelled) == "pipe-1"
    assert pipeline_of({"Labels": {}, "Names": ["/sigma-pool-1"]}) == ""


def test_the_reaper_judges_a_lease_by_its_pipeline() -> None:
    now = 1_000_000.0
    container = {
        "Id": "x",
        "State": "running",
        "Names": [f"/{lease_name('p', 'pipe-5')}"],
        "Labels": {
            c.LABEL_PIPELINE: "",
            c.LABEL_CREATED_AT: str(int(now) - 10),
            c.LABEL_EXPIRES_AT: str(int(now) + 99),
        },
    }
    assert reap_reason(container, now=now, live_pipelines=(), dead_pipelines={"pipe-5"}) == "pipeline ended"
    assert reap_reason(container, now=now, live_pipelines={"pipe-5"}, dead_pipelines={"pipe-5"}) is None
    assert reap_reason(container, now=now + 200, live_pipelines={"pipe-5"}, dead_pipelines=()) is None
    assert reap_reason(container, now=now + 200, live_pipelines=(), dead_pipelines=()) == "expired"


def test_a_prepared_sandbox_matches_only_the_same_image_profile_and_workspace() -> None:
    settings = Settings(SIGMA_NODE="n")
    spec = build_container_spec(settings, image="img:1", project_id="p", language="python", env={})
    key = prepared_key(spec, "sha256:a", "digest-1")
    assert key == prepared_key(spec.model_copy(update={"name": "other"}), "sha256:a", "digest-1")
    assert key != prepared_key(spec, "sha256:b", "digest-1")
    assert key != prepared_key(spec, "sha256:a", "digest-2")
    other = build_container_spec(settings, image="img:1", project_id="q", language="python", env={})
    assert key != prepared_key(other, "sha256:a", "digest-1")  # never another project's, even with its content
    tighter = build_container_spec(
        Settings(SIGMA_NODE="n", SANDBOX_MEMORY_MB=256), image="img:1", project_id="p", language="python", env={}
    )
    assert key != prepared_key(tighter, "sha256:a", "digest-1")
