"""The Helm chart, rendered offline with the Helm v4 library (helm-python-sdk).

Every manifest is validated against the Kubernetes OpenAPI schemas (kubernetes-validate,
strict: unknown fields fail) for default values and for a production-like values file, and
the properties the app contract relies on are asserted. No cluster is involved: scheduling,
admission, hooks actually running and the image itself are not exercised here.
"""

import base64
import json
import re
from pathlib import Path

import pytest
import yaml

from ._support import CHART, REPO

helm = pytest.importorskip("helm_python", reason="pip install helm-python-sdk")
kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="pip install kubernetes-validate"
)

KUBE_VERSION = "1.34.0"
RELEASE, NAMESPACE = "gov", "dgbox"
PRODUCTION_VALUES = Path(__file__).with_name("values-production.yaml")
HOOK = "helm.sh/hook"
#: The Prometheus Operator's duration pattern (ServiceMonitor interval, scrapeTimeout).
DURATION = (r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?"
            r"(([0-9]+)ms)?)$")


def render(values: dict | None = None) -> list[dict]:
    chart = helm.Chart.load(str(CHART))
    manifests = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    documents = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        documents += [doc for doc in yaml.safe_load_all(text) if doc]
    return documents


def notes(values: dict | None = None) -> str:
    chart = helm.Chart.load(str(CHART))
    manifests = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return next(text for path, text in manifests.items() if path.endswith("NOTES.txt"))


def production_values() -> dict:
    return yaml.safe_load(PRODUCTION_VALUES.read_text())


def by_kind(documents, kind) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def workload(documents, component) -> dict:
    """The Deployment or Job of a component."""
    (doc,) = [
        d
        for d in documents
        if d["kind"] in ("Deployment", "Job")
        and d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return doc


def container(doc) -> dict:
    (only,) = doc["spec"]["template"]["spec"]["containers"]
    return only


@pytest.fixture(scope="module")
def default_docs():
    return render()


@pytest.fixture(scope="module")
def production_docs():
    return render(production_values())


@pytest.fixture(params=["default", "production"])
def docs(request, default_docs, production_docs):
    return default_docs if request.param == "default" else production_docs


# --- Validity -------------------------------------------------------------------------------


def test_every_manifest_is_valid_kubernetes(docs):
    kinds = set()
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        assert doc["metadata"]["namespace"] == NAMESPACE
        kinds.add(doc["kind"])
    assert {
        "Deployment",
        "Service",
        "ConfigMap",
        "Job",
        "ServiceAccount",
        "PodDisruptionBudget",
    } <= kinds


def test_default_and_production_render_the_expected_objects(default_docs, production_docs):
    def names(docs):
        return sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)

    assert names(default_docs) == [
        "ConfigMap/gov-dgbox-config",
        "ConfigMap/gov-dgbox-migrate",
        "Deployment/gov-dgbox-beat",
        "Deployment/gov-dgbox-web",
        "Deployment/gov-dgbox-worker",
        "Job/gov-dgbox-migrate",
        "PodDisruptionBudget/gov-dgbox-web",
        "Secret/gov-dgbox",
        "Secret/gov-dgbox-migrate",
        "Service/gov-dgbox-web",
        "Service/gov-dgbox-worker",
        "ServiceAccount/gov-dgbox",
        "ServiceAccount/gov-dgbox-migrate",
    ]
    # existingSecret: no chart Secret at all; plus Ingress, HPA and NetworkPolicies.
    assert names(production_docs) == [
        "ConfigMap/gov-dgbox-config",
        "ConfigMap/gov-dgbox-migrate",
        "Deployment/gov-dgbox-beat",
        "Deployment/gov-dgbox-web",
        "Deployment/gov-dgbox-worker",
        "HorizontalPodAutoscaler/gov-dgbox-web",
        "Ingress/gov-dgbox",
        "Job/gov-dgbox-migrate",
        "NetworkPolicy/gov-dgbox-background",
        "NetworkPolicy/gov-dgbox-web",
        "PodDisruptionBudget/gov-dgbox-web",
        "Service/gov-dgbox-web",
        "Service/gov-dgbox-worker",
        "ServiceAccount/gov-dgbox",
        "ServiceAccount/gov-dgbox-migrate",
    ]


@pytest.mark.parametrize("which", ["default", "production"])
def test_helm_lint_strict(which):
    values = production_values() if which == "production" else None
    report = helm.lint(str(CHART), values, strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [], problems


# --- The values schema ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"web": {"replicaCount": "two"}}, "/web/replicaCount"),
        ({"wbe": {"replicaCount": 2}}, "wbe"),
        ({"beat": {"replicaCount": 2}}, "replicaCount"),
        ({"secrets": {"secretKey": "too-short"}}, "/secrets/secretKey"),
        ({"secrets": {"databaseUrl": "mysql://db/dgbox"}}, "/secrets/databaseUrl"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "/podSecurityContext/runAsNonRoot"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"config": {"baseDomain": "Gov.Example/"}}, "/config/baseDomain"),
        ({"web": {"resources": {"limits": {"memory": "lots"}}}}, "/web/resources/limits/memory"),
        (
            {"jobs": {"migrate": {"rollout": {"maxFailures": "lots"}}}},
            "/jobs/migrate/rollout/maxFailures",
        ),
        (
            {"jobs": {"migrate": {"rollout": {"maxFailures": "-1"}}}},
            "/jobs/migrate/rollout/maxFailures",
        ),
        ({"jobs": {"migrate": {"rollout": {"waveSize": 0}}}}, "/jobs/migrate/rollout/waveSize"),
        ({"jobs": {"migrate": {"rollout": {"workers": -1}}}}, "/jobs/migrate/rollout/workers"),
        (
            {"jobs": {"migrate": {"rollout": {"canary": "Pilot City"}}}},
            "/jobs/migrate/rollout/canary",
        ),
        ({"jobs": {"migrate": {"mode": "stock"}}}, "/jobs/migrate/mode"),
        ({"secrets": {"brokerUrl": "kafka://mq:9092"}}, "/secrets/brokerUrl"),
        ({"config": {"brokerVisibilityTimeout": 0}}, "/config/brokerVisibilityTimeout"),
        # Transaction pooling hands one tenant's search_path to another's queries
        # (tests/test_pgbouncer.py): the chart refuses it before the app would.
        ({"config": {"dbPooler": "pgbouncer-transaction"}}, "/config/dbPooler"),
        # Media on a per-pod emptyDir would be lost with the pod and differ per replica.
        ({"config": {"publicMedia": "local"}}, "/config/publicMedia"),
        ({"observability": {"logFormat": "xml"}}, "/observability/logFormat"),
        ({"observability": {"metrics": {"port": 8000}}}, "/observability/metrics/port"),
        (
            {"observability": {"metrics": {"serviceMonitor": {"interval": "often"}}}},
            "/observability/metrics/serviceMonitor/interval",
        ),
    ],
)
def test_schema_rejects_bad_values(bad, where):
    with pytest.raises(helm.HelmValuesError) as error:
        render(bad)
    assert where in str(error.value)


@pytest.mark.parametrize("max_failures, rendered", [("5%", "5%"), ("2.5%", "2.5%"), (3, "3")])
def test_schema_accepts_max_failures_as_a_number_or_a_percentage(max_failures, rendered):
    job = workload(
        render({"jobs": {"migrate": {"rollout": {"maxFailures": max_failures}}}}), "migrate"
    )
    args = container(job)["args"]
    assert args[args.index("--max-failures") + 1] == rendered


def _leaves(values: dict, prefix: str = "") -> list[str]:
    """Dotted paths of values.yaml's leaves; empty maps and lists count as leaves."""
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths += _leaves(value, f"{path}.")
        else:
            paths.append(path)
    return paths


def _schema_node(schema: dict, path: str) -> dict | None:
    node = schema
    for part in path.split("."):
        while "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return node


def test_every_value_is_documented_and_typed():
    text = (CHART / "values.yaml").read_text()
    schema = json.loads((CHART / "values.schema.json").read_text())
    documented = set(re.findall(r"^\s*## @param ([\w.-]+) \S", text, re.M))
    leaves = _leaves(yaml.safe_load(text))
    assert len(leaves) > 100
    assert sorted(set(leaves) - documented) == []
    assert sorted(documented - set(leaves)) == []  # no documentation for removed values
    untyped = [leaf for leaf in leaves if _schema_node(schema, leaf) is None]
    assert untyped == []


# --- What the app contract needs --------------------------------------------------------------


def test_migrate_job_is_a_pre_install_and_pre_upgrade_hook(docs):
    job = workload(docs, "migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations[HOOK] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Everything the Job mounts or reads exists before it: hook copies with a lower weight.
    job_weight = int(annotations["helm.sh/hook-weight"])
    hooks = {
        (d["kind"], d["metadata"]["name"]): d
        for d in docs
        if HOOK in d["metadata"].get("annotations", {}) and d["kind"] != "Job"
    }
    spec = job["spec"]["template"]["spec"]
    env = container(job)
    needed = {("ConfigMap", env["envFrom"][0]["configMapRef"]["name"])}
    secret_names = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for c in [*spec["initContainers"], *spec["containers"]]
        for e in c["env"]
        if "valueFrom" in e
    }
    (secret_name,) = secret_names
    if secret_name != "dgbox-prod-env":  # an existing Secret is there before the release
        needed.add(("Secret", secret_name))
    needed.add(("ServiceAccount", spec["serviceAccountName"]))
    for key in needed:
        assert key in hooks, (key, sorted(hooks))
        hook = hooks[key]["metadata"]["annotations"]
        assert hook[HOOK] == "pre-install,pre-upgrade"
        assert int(hook["helm.sh/hook-weight"]) < job_weight


def init_containers(doc) -> list[dict]:
    return doc["spec"]["template"]["spec"].get("initContainers", [])


def rollout_args(**options) -> list[str]:
    """`dgbox rollout run` as the Job runs it, with the chart's defaults unless given."""
    args = [
        "dgbox",
        "rollout",
        "run",
        "--json",
        "--max-failures",
        options.get("max_failures", "0"),
        "--wave-size",
        options.get("wave_size", "50"),
        "--workers",
        options.get("workers", "0"),
    ]
    if "canary" in options:
        args += ["--canary", options["canary"]]
    return args


def test_migrate_job_migrates_shared_schemas_then_rolls_out(default_docs, production_docs):
    """Default mode: `dgbox migrate --shared` in an initContainer (public schema, national
    tenant, bucket, template), then `dgbox rollout run` with the values' options."""
    for docs, expected in (
        (default_docs, rollout_args()),
        (production_docs, rollout_args(wave_size="100", workers="2")),
    ):
        job = workload(docs, "migrate")
        (init,) = init_containers(job)
        main = container(job)
        assert (init["name"], init["args"]) == ("migrate-shared", ["dgbox", "migrate", "--shared"])
        assert (main["name"], main["args"]) == ("rollout", expected)
        assert "--canary" not in main["args"]  # only when jobs.migrate.rollout.canary is set
        # `kubectl logs job/...` shows the rollout, not the initContainer.
        annotations = job["spec"]["template"]["metadata"]["annotations"]
        assert annotations["kubectl.kubernetes.io/default-container"] == "rollout"
        # Both run the same image with the same environment, mounts, security and resources.
        same = {k: v for k, v in init.items() if k not in ("name", "args")}
        assert same == {k: v for k, v in main.items() if k not in ("name", "args")}
        assert set(same) == {
            "image",
            "imagePullPolicy",
            "securityContext",
            "envFrom",
            "env",
            "volumeMounts",
            "resources",
        }
    limits = container(workload(production_docs, "migrate"))["resources"]["limits"]
    assert limits == {"cpu": "2", "memory": "1Gi", "ephemeral-storage": "2Gi"}


def test_migrate_job_passes_the_configured_rollout_options():
    rollout = {"maxFailures": "5%", "waveSize": 20, "workers": 3, "canary": "pilot-city,severnaya"}
    job = workload(render({"jobs": {"migrate": {"rollout": rollout}}}), "migrate")
    kubernetes_validate.validate(job, KUBE_VERSION, strict=True)
    assert container(job)["args"] == rollout_args(
        max_failures="5%", wave_size="20", workers="3", canary="pilot-city,severnaya"
    )
    assert init_containers(job)[0]["args"] == ["dgbox", "migrate", "--shared"]
    # An empty canary list passes no --canary at all (the command would reject "").
    job = workload(render({"jobs": {"migrate": {"rollout": {"canary": ""}}}}), "migrate")
    assert container(job)["args"] == rollout_args()


def test_migrate_mode_runs_the_single_migrate_command():
    values = {"jobs": {"migrate": {"mode": "migrate", "rollout": {"canary": "pilot-city"}}}}
    job = workload(render(values), "migrate")
    kubernetes_validate.validate(job, KUBE_VERSION, strict=True)
    assert init_containers(job) == []
    main = container(job)
    assert (main["name"], main["args"]) == ("migrate", ["dgbox", "migrate"])
    annotations = job["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kubectl.kubernetes.io/default-container"] == "migrate"
    # Everything but the command is as in rollout mode.
    rollout_job = workload(render(), "migrate")
    assert {k: v for k, v in main.items() if k not in ("name", "args")} == {
        k: v for k, v in container(rollout_job).items() if k not in ("name", "args")
    }
    assert job["metadata"]["annotations"] == rollout_job["metadata"]["annotations"]


def test_hook_copies_carry_the_same_configuration(default_docs):
    configmaps = by_kind(default_docs, "ConfigMap")
    assert configmaps["gov-dgbox-migrate"]["data"] == configmaps["gov-dgbox-config"]["data"]
    secrets = by_kind(default_docs, "Secret")
    assert set(secrets["gov-dgbox-migrate"]["data"]) == set(secrets["gov-dgbox"]["data"])


def test_beat_runs_exactly_one_replica_with_recreate(docs):
    beat = workload(docs, "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    args = container(beat)["args"]
    assert args[:6] == ["celery", "-A", "dgbox", "beat", "-l", "info"]
    # The root filesystem is read-only: the schedule file lives in the state emptyDir.
    assert args[args.index("--schedule") + 1].startswith("/var/lib/dgbox/")
    assert not any(
        d["kind"] == "HorizontalPodAutoscaler"
        and d["spec"]["scaleTargetRef"]["name"] == beat["metadata"]["name"]
        for d in docs
    )


def test_web_probes_and_command(docs):
    web = container(workload(docs, "web"))
    assert web["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"},
                            {"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
    assert web["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert web["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert web["startupProbe"]["httpGet"]["path"] == "/healthz"
    args = web["args"]
    assert args[:4] == ["gunicorn", "dgbox.wsgi:application", "--bind", "0.0.0.0:8000"]
    assert args[args.index("--workers") + 1].isdigit()


def test_worker_command(docs):
    args = container(workload(docs, "worker"))["args"]
    assert args[:6] == ["celery", "-A", "dgbox", "worker", "-l", "info"]


def test_production_sizes(production_docs):
    assert workload(production_docs, "worker")["spec"]["replicas"] == 3
    web = workload(production_docs, "web")
    assert "replicas" not in web["spec"]  # the HPA owns it
    (hpa,) = by_kind(production_docs, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": web["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (4, 12)
    args = container(web)["args"]
    assert args[args.index("--workers") + 1] == "4"
    assert args[-2:] == ["--threads", "2"]
    (pdb,) = by_kind(production_docs, "PodDisruptionBudget").values()
    assert pdb["spec"] == {"minAvailable": 2, "selector": web["spec"]["selector"]}
    assert container(web)["image"] == (
        "registry.gov.example/platform/dgbox@sha256:"
        "5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
    )
    pod = web["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]


def test_pods_are_locked_down(docs):
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] > 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert set(volumes) == {"tmp", "state"}
        assert all("emptyDir" in v for v in volumes.values())
        for main in [*pod.get("initContainers", []), *pod["containers"]]:
            security = main["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
            assert mounts == {"/tmp": "tmp", "/var/lib/dgbox": "state"}  # noqa: S108
            resources = main["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"])
            assert "memory" in resources["limits"]


def test_environment_comes_from_the_configmap_and_the_secret(default_docs, production_docs):
    for docs, secret_name in ((default_docs, "gov-dgbox"), (production_docs, "dgbox-prod-env")):
        configmap = by_kind(docs, "ConfigMap")["gov-dgbox-config"]["data"]
        for component in ("web", "worker", "beat"):
            main = container(workload(docs, component))
            assert main["envFrom"] == [{"configMapRef": {"name": "gov-dgbox-config"}}]
            refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in main["env"]
                    if "valueFrom" in e}
            assert set(refs) == {
                "DGBOX_SECRET_KEY",
                "DATABASE_URL",
                "REDIS_URL",
                "DGBOX_BROKER_URL",
                "EMAIL_URL",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "DGBOX_SENTRY_DSN",
                "DGBOX_METRICS_TOKEN",
            }
            assert {ref["name"] for ref in refs.values()} == {secret_name}
            assert all(ref["key"] == name for name, ref in refs.items())
            required = {n for n, ref in refs.items() if not ref.get("optional")}
            assert required == {"DGBOX_SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
            # Secrets never leak into the ConfigMap.
            assert not set(refs) & set(configmap)
        assert configmap["DJANGO_SETTINGS_MODULE"] == "dgbox.settings.production"
        assert configmap["DGBOX_STATE_DIR"] == "/var/lib/dgbox"
        assert configmap["DGBOX_PUBLIC_MEDIA"] == "s3"  # no pod keeps page images on disk
    production = by_kind(production_docs, "ConfigMap")["gov-dgbox-config"]["data"]
    assert production["DGBOX_BASE_DOMAIN"] == "services.gov.example"
    assert production["DGBOX_ALLOWED_HOSTS"] == (
        "services.gov.example,.services.gov.example,portal.city.example"
    )
    assert production["DGBOX_S3_BUCKET"] == "dgbox-prod-media"
    assert production["DGBOX_DB_CONN_MAX_AGE"] == "600"
    assert production["DGBOX_DB_POOLER"] == "pgbouncer-session"
    default = by_kind(default_docs, "ConfigMap")["gov-dgbox-config"]["data"]
    assert default["DGBOX_DB_POOLER"] == "none"
    assert (
        "DGBOX_ALLOWED_HOSTS" not in by_kind(default_docs, "ConfigMap")["gov-dgbox-config"]["data"]
    )


def test_chart_secret_holds_given_values_and_a_generated_key():
    values = {
        "secrets": {
            "databaseUrl": "postgres://dgbox:pw@db:5432/dgbox",
            "redisUrl": "redis://:pw@redis:6379/0",
        }
    }
    secret = by_kind(render(values), "Secret")["gov-dgbox"]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["DATABASE_URL"] == "postgres://dgbox:pw@db:5432/dgbox"
    assert data["REDIS_URL"] == "redis://:pw@redis:6379/0"
    assert len(data["DGBOX_SECRET_KEY"]) == 64  # the production settings demand >= 50
    assert "EMAIL_URL" not in data  # empty optional values are left out
    given = by_kind(render({"secrets": {"secretKey": "s" * 60}}), "Secret")["gov-dgbox"]
    assert base64.b64decode(given["data"]["DGBOX_SECRET_KEY"]).decode() == "s" * 60


def test_rabbitmq_broker_goes_in_the_secret_and_the_visibility_timeout_in_the_configmap():
    docs = render({"secrets": {"brokerUrl": "amqp://dgbox:pw@rabbitmq:5672/dgbox"},
                   "config": {"brokerVisibilityTimeout": 90}})
    secret = by_kind(docs, "Secret")["gov-dgbox"]
    assert base64.b64decode(secret["data"]["DGBOX_BROKER_URL"]).decode() == (
        "amqp://dgbox:pw@rabbitmq:5672/dgbox")
    configmap = by_kind(docs, "ConfigMap")["gov-dgbox-config"]["data"]
    assert configmap["DGBOX_BROKER_VISIBILITY_TIMEOUT"] == "90"
    assert "DGBOX_BROKER_URL" not in by_kind(render({}), "Secret")["gov-dgbox"]["data"]


def test_missing_settings_are_reported(default_docs):
    text = notes()
    assert "secrets.databaseUrl (DATABASE_URL) is empty" in text
    assert "secrets.redisUrl (REDIS_URL) is empty" in text
    assert "WARNING" not in notes(production_values())


def test_ingress_routes_the_base_domain_and_every_tenant_subdomain(production_docs):
    (ingress,) = by_kind(production_docs, "Ingress").values()
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == ["services.gov.example", "*.services.gov.example", "portal.city.example"]
    for rule in ingress["spec"]["rules"]:
        (path,) = rule["http"]["paths"]
        assert path["backend"]["service"] == {"name": "gov-dgbox-web", "port": {"name": "http"}}
    assert ingress["spec"]["tls"] == [
        {"secretName": "services-gov-example-wildcard", "hosts": hosts}
    ]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    service = by_kind(production_docs, "Service")["gov-dgbox-web"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    web = workload(production_docs, "web")
    assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]


def test_host_affinity_hashes_each_host_to_one_pod(production_docs):
    """Off by default; on, ingress-nginx hashes the Host header (docs/scaling.md), and the
    Ingress's other annotations stay."""
    (ingress,) = by_kind(production_docs, "Ingress").values()
    assert "nginx.ingress.kubernetes.io/upstream-hash-by" not in (
        ingress["metadata"].get("annotations") or {})
    values = production_values()
    values["ingress"]["hostAffinity"] = True
    (ingress,) = by_kind(render(values), "Ingress").values()
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/upstream-hash-by"] == "$host"
    for key, value in production_values()["ingress"].get("annotations", {}).items():
        assert annotations[key] == value


def test_network_policies(production_docs):
    policies = by_kind(production_docs, "NetworkPolicy")
    web = policies["gov-dgbox-web"]["spec"]
    rule, metrics = web["ingress"]
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    } in rule["from"]
    # the metrics port, from any namespace unless observability.metrics.allowedNamespaceLabels
    assert metrics == {"ports": [{"port": 9100, "protocol": "TCP"}],
                       "from": [{"namespaceSelector": {}}]}
    background = policies["gov-dgbox-background"]["spec"]
    assert background["ingress"] == [metrics] and "Ingress" in background["policyTypes"]
    egress_ports = {p["port"] for r in background["egress"] for p in r.get("ports", [])}
    assert {53, 5432, 6379, 443, 587} <= egress_ports


def test_config_change_rolls_the_pods():
    before = workload(render(production_values()), "web")
    changed = production_values()
    changed["config"]["extraEnv"]["DGBOX_LOG_LEVEL"] = "DEBUG"
    after = workload(render(changed), "web")
    key = "checksum/config"
    assert (
        before["spec"]["template"]["metadata"]["annotations"][key]
        != after["spec"]["template"]["metadata"]["annotations"][key]
    )


def test_containerfile_matches_the_chart():
    """The image runs as the user the chart expects and serves on the probed port."""
    containerfile = REPO / "Containerfile"
    if not containerfile.exists():
        pytest.skip("no Containerfile in this checkout")
    text = containerfile.read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] == str(values["podSecurityContext"]["runAsUser"])
    assert re.search(r"^EXPOSE\s+8000\b", text, re.M)
    assert "collectstatic --noinput" in text
    # Static files are baked in outside the state dir, which the chart covers with an emptyDir.
    static_root = re.search(r"DGBOX_STATIC_ROOT=(\S+)", text).group(1)
    assert not static_root.startswith(values["config"]["stateDir"])
    # The chart runs the image as tests/deploy/test_image.py does: non-root, read-only root,
    # writable volumes only on /tmp and on the state directory the image is configured with.
    state_dir = re.escape(values["config"]["stateDir"])
    assert re.search(rf"^\s+DGBOX_STATE_DIR={state_dir}\s", text, re.M)
    assert re.search(rf"useradd .*--uid {values['podSecurityContext']['runAsUser']} ", text)
    security = values["containerSecurityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert values["podSecurityContext"]["runAsNonRoot"]


# --- Observability (docs/observability.md) ----------------------------------------------------
# The fields of the Prometheus Operator's ServiceMonitor CRD (monitoring.coreos.com/v1) the
# chart sets, as its openAPIV3Schema types them; kubernetes-validate knows no CRDs.
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {"type": "object", "properties": {
                    "matchLabels": {"type": "object",
                                    "additionalProperties": {"type": "string"}}}},
                "namespaceSelector": {"type": "object", "additionalProperties": False,
                                      "properties": {"any": {"type": "boolean"},
                                                     "matchNames": {"type": "array",
                                                                    "items": {"type": "string"}}}},
                "endpoints": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "port": {"type": "string"},
                        "path": {"type": "string"},
                        "interval": {"type": "string", "pattern": DURATION},
                        "scrapeTimeout": {"type": "string", "pattern": DURATION},
                    }}},
            },
        },
    },
}


def test_metrics_port_on_web_and_worker_by_default(default_docs):
    for component in ("web", "worker"):
        main = container(workload(default_docs, component))
        assert {"name": "metrics", "containerPort": 9100, "protocol": "TCP"} in main["ports"]
        plain = {e["name"]: e["value"] for e in main["env"] if "value" in e}
        assert plain == {"PROMETHEUS_MULTIPROC_DIR": "/tmp/dgbox-metrics",  # noqa: S108
                         "DGBOX_METRICS_PORT": "9100"}
    beat = container(workload(default_docs, "beat"))
    assert "ports" not in beat and all("valueFrom" in e for e in beat["env"])
    services = by_kind(default_docs, "Service")
    assert {"name": "metrics", "port": 9100, "targetPort": "metrics",
            "protocol": "TCP"} in services["gov-dgbox-web"]["spec"]["ports"]
    worker = services["gov-dgbox-worker"]["spec"]
    assert worker["clusterIP"] == "None" and [p["name"] for p in worker["ports"]] == ["metrics"]
    args = container(workload(default_docs, "web"))["args"]
    assert args[args.index("--config") + 1] == "python:dgbox.gunicorn_conf"
    config = by_kind(default_docs, "ConfigMap")["gov-dgbox-config"]["data"]
    assert config["DGBOX_LOG_FORMAT"] == "json"
    assert config["DGBOX_SENTRY_ENVIRONMENT"] == "production"
    assert config["DGBOX_METRICS_FLEET_SECONDS"] == "15"
    assert "DGBOX_SENTRY_DSN" not in config and "DGBOX_METRICS_TOKEN" not in config


def test_service_monitor_absent_by_default(docs):
    assert not by_kind(docs, "ServiceMonitor")


def test_service_monitor_renders_and_validates_when_enabled():
    import jsonschema

    values = production_values()
    values["observability"] = {"metrics": {
        "serviceMonitor": {"enabled": True, "interval": "15s", "scrapeTimeout": "5s",
                           "labels": {"release": "kube-prometheus-stack"}},
        "allowedNamespaceLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    documents = render(values)
    (monitor,) = by_kind(documents, "ServiceMonitor").values()
    jsonschema.validate(monitor, SERVICE_MONITOR_SCHEMA)
    for doc in documents:
        if doc["kind"] != "ServiceMonitor":
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics",
                                             "interval": "15s", "scrapeTimeout": "5s"}]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    # It selects exactly the Services that name a metrics port: web and worker.
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = [doc for doc in by_kind(documents, "Service").values()
                if selector.items() <= doc["metadata"]["labels"].items()]
    assert sorted(doc["metadata"]["name"] for doc in selected) == ["gov-dgbox-web",
                                                                   "gov-dgbox-worker"]
    assert all("metrics" in [p["name"] for p in doc["spec"]["ports"]] for doc in selected)
    # The network policies let the monitoring namespace reach the port, and nothing else new.
    for policy in by_kind(documents, "NetworkPolicy").values():
        rule = policy["spec"]["ingress"][-1]
        assert rule == {"ports": [{"port": 9100, "protocol": "TCP"}],
                        "from": [{"namespaceSelector": {"matchLabels": {
                            "kubernetes.io/metadata.name": "monitoring"}}}]}


def test_metrics_can_be_switched_off():
    documents = render({"observability": {"metrics": {"enabled": False}}})
    assert "gov-dgbox-worker" not in by_kind(documents, "Service")
    web = container(workload(documents, "web"))
    assert [p["name"] for p in web["ports"]] == ["http"]
    assert all("valueFrom" in e for e in web["env"])
    with pytest.raises(Exception, match="needs observability.metrics.enabled"):
        render({"observability": {"metrics": {"enabled": False,
                                              "serviceMonitor": {"enabled": True}}}})


def test_sentry_dsn_and_metrics_token_go_in_the_secret():
    values = {"secrets": {"sentryDsn": "https://key@sentry.gov.example/3",
                          "metricsToken": "t" * 40}}
    documents = render(values)
    secret = by_kind(documents, "Secret")["gov-dgbox"]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["DGBOX_SENTRY_DSN"] == "https://key@sentry.gov.example/3"
    assert data["DGBOX_METRICS_TOKEN"] == "t" * 40
    config = by_kind(documents, "ConfigMap")["gov-dgbox-config"]["data"]
    assert "https://key@sentry.gov.example/3" not in json.dumps(config)
