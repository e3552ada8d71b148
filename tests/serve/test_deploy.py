"""deploy/: the KServe manifests are valid for KServe's own CRD schema (vendored in
deploy/vendor/kserve/) and start the server they describe. No cluster, no server: the schema
as the API server would apply it, and the container's command line read by `fmnist serve`'s
own parser."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from fmnist.serve import app, options
from fmnist.serve.settings import ServeSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
VENDORED = DEPLOY / "vendor" / "kserve"
SCHEMA = VENDORED / "inferenceservice-v1beta1.json"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))
IMAGE = "localhost/fmnist-serve:latest"  # the name `make image` tags its image with
MODEL = Path("/srv/fmnist/model.tflite")  # where that image keeps the sealed model
READY, LIVE = "/v2/health/ready", "/v2/health/live"  # the Open Inference Protocol's health
DEFAULTS = ServeSettings(model=Path())


def _as_the_api_server_reads(schema: dict) -> dict:
    """The schema with the rule Kubernetes adds to it: an object that lists its properties takes
    no others (kubectl's default field validation, Strict), unless it says
    x-kubernetes-preserve-unknown-fields. An object listing none (metadata) stays open."""
    read = dict(schema)
    if "properties" in read:
        read["properties"] = {
            name: _as_the_api_server_reads(value) for name, value in read["properties"].items()
        }
        if not read.get("x-kubernetes-preserve-unknown-fields"):
            read.setdefault("additionalProperties", False)
    for key in ("items", "additionalProperties"):
        if isinstance(read.get(key), dict):
            read[key] = _as_the_api_server_reads(read[key])
    if "anyOf" in read:  # int-or-string fields: anyOf integer, string
        read["anyOf"] = [_as_the_api_server_reads(value) for value in read["anyOf"]]
    return read


def _unique_entries(validator, list_type, instance, schema):
    """x-kubernetes-list-type: a set's items are unique, and so are a map's entries by their
    keys (a missing key counts as its default, as the API server fills it in)."""
    if list_type not in ("set", "map") or not validator.is_type(instance, "array"):
        return
    keys = schema.get("x-kubernetes-list-map-keys", [])
    defaults = {key: schema["items"]["properties"][key].get("default") for key in keys}
    seen = set()
    for entry in instance:
        if list_type == "map" and isinstance(entry, dict):
            identity = tuple(entry.get(key, defaults[key]) for key in keys)
        else:
            identity = json.dumps(entry, sort_keys=True)
        if identity in seen:
            yield jsonschema.ValidationError(f"{keys or 'item'} {identity} appears twice")
        seen.add(identity)


@pytest.fixture(scope="module")
def kserve() -> jsonschema.protocols.Validator:
    """KServe's InferenceService schema as a validator. OpenAPI v3's schema language is close to
    JSON Schema draft 4-7; of what it adds, KServe's schema uses only the x-kubernetes-* keys
    (int-or-string fields also carry anyOf) and integer formats, which are not checked."""
    kind = jsonschema.validators.extend(
        jsonschema.Draft7Validator, {"x-kubernetes-list-type": _unique_entries}
    )
    return kind(_as_the_api_server_reads(json.loads(SCHEMA.read_bytes())))


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _server_arguments(container: dict) -> argparse.Namespace:
    """The container's command line, read by `fmnist serve`'s own parser."""
    parser = argparse.ArgumentParser(prog="fmnist")
    options.add_parser(parser.add_subparsers(dest="command", required=True), model_help="")
    assert container["command"] == ["fmnist"]
    return parser.parse_args(container["args"])


def test_the_vendored_schema_is_the_one_its_readme_records():
    digest = hashlib.sha256(SCHEMA.read_bytes()).hexdigest()
    assert f"`{digest}`" in (VENDORED / "README.md").read_text()


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_kserve_accepts_the_manifest(kserve, path):
    manifest = _load(path)
    assert manifest["apiVersion"] == "serving.kserve.io/v1beta1"  # the version vendored
    assert manifest["kind"] == "InferenceService"
    errors = [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in kserve.iter_errors(manifest)
    ]
    assert errors == []


def _predictor(manifest: dict) -> dict:
    return manifest["spec"]["predictor"]


def _container(manifest: dict) -> dict:
    return manifest["spec"]["predictor"]["containers"][0]


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


# Each change, and what KServe's schema (with Kubernetes' rules above) says of it.
REJECTED = [
    pytest.param(
        lambda m: _predictor(m).update(minReplicas="two"),
        "'two' is not of type 'integer'",
        id="replicas-as-text",
    ),
    pytest.param(
        lambda m: _predictor(m).update(scaleMetric="latency"),
        "'latency' is not one of ['cpu', 'memory', 'concurrency', 'rps']",
        id="unknown-scale-metric",
    ),
    # Only a framework predictor has protocolVersion; a custom container says it in $PROTOCOL.
    pytest.param(
        lambda m: _predictor(m).update(protocolVersion="v2"),
        "('protocolVersion' was unexpected)",
        id="protocolVersion-on-a-custom-predictor",
    ),
    pytest.param(
        lambda m: _rename(_container(m), "readinessProbe", "readinessprobe"),
        "('readinessprobe' was unexpected)",
        id="misspelt-field",
    ),
    pytest.param(
        lambda m: _container(m)["resources"]["limits"].update(memory="lots"),
        "'lots' does not match",
        id="not-a-quantity",
    ),
    pytest.param(
        lambda m: _container(m).pop("name"),
        "'name' is a required property",
        id="container-without-name",
    ),
    pytest.param(
        lambda m: _container(m)["ports"][0].pop("containerPort"),
        "'containerPort' is a required property",
        id="port-without-number",
    ),
    pytest.param(
        lambda m: _container(m)["ports"].append({"containerPort": 8080}),
        "(8080, 'TCP') appears twice",
        id="one-port-twice",
    ),
]


@pytest.mark.parametrize(("change", "refusal"), REJECTED)
def test_kserve_rejects_a_broken_manifest(kserve, change, refusal):
    manifest = _load(DEPLOY / "inferenceservice.yaml")
    change(manifest)
    with pytest.raises(jsonschema.ValidationError, match=re.escape(refusal)):
        kserve.validate(manifest)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_the_container_runs_the_server_the_manifest_describes(path):
    manifest = _load(path)
    predictor = _predictor(manifest)
    (container,) = predictor["containers"]
    arguments = _server_arguments(container)
    settings = options.settings_from(arguments, arguments.model)  # checks every value
    assert container["name"] == "kserve-container"  # KServe's name for the model server
    assert (container["image"], arguments.model) == (IMAGE, MODEL)
    assert (arguments.command, arguments.host) == ("serve", "0.0.0.0")
    assert arguments.port == DEFAULTS.port  # KServe's HTTP port
    assert arguments.grpc_port in (None, DEFAULTS.grpc_port)  # off, or KServe's gRPC port
    assert arguments.workers == int(container["resources"]["limits"]["cpu"])
    (port,) = container["ports"]  # Knative routes to one port per pod, HTTP/1.1 or h2c (gRPC)
    assert (
        port["containerPort"] == {"http1": arguments.port, "h2c": arguments.grpc_port}[port["name"]]
    )
    assert container["readinessProbe"]["httpGet"] == {"path": READY, "port": arguments.port}
    assert container["livenessProbe"]["httpGet"] == {"path": LIVE, "port": arguments.port}
    annotations = manifest["metadata"]["annotations"]
    assert annotations["prometheus.kserve.io/port"] == str(arguments.port)
    assert {READY, LIVE, annotations["prometheus.kserve.io/path"]} <= {
        route.path for route in app.routes()
    }
    assert predictor["terminationGracePeriodSeconds"] > settings.drain_timeout
    environment = {variable["name"]: variable["value"] for variable in container["env"]}
    assert environment["PROTOCOL"] == "v2"  # KServe's webhook takes v1 or v2 here, nothing else
