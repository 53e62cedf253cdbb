"""deploy/: the Kubernetes manifests against the Kubernetes schemas (kubernetes-validate, offline),
what they must agree on (probes on the admin port, the ConfigMap mounted where the command reads
it, grace periods longer than shutdown_grace), the systemd unit through `systemd-analyze verify`,
the container file's stages and runtime packages, and the deploy routes file through
`trestle check`."""
import re
import shlex
import subprocess

import yaml

import harness

DEPLOY = harness.REPO / "deploy"
K8S = DEPLOY / "kubernetes"
ROUTES = DEPLOY / "routes.yaml"
UNIT = DEPLOY / "systemd" / "trestle.service"
CONTAINERFILE = DEPLOY / "Containerfile"
# A schema version kubernetes-validate 1.37.0 ships (pinned in scripts/test); 1.34 is the oldest
# Kubernetes the manifests are written for (sidecar-free, autoscaling/v2, policy/v1).
KUBERNETES_VERSION = "1.34.0"


def manifests():
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def duration_seconds(text):
    match = re.fullmatch(r"(\d+)(ms|s|m)", text)
    assert match, f"unexpected duration {text!r}"
    return int(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[match.group(2)]


def trestle_check(path):
    return subprocess.run([str(harness.TRESTLE_BIN), "check", "--config", str(path)],
                          capture_output=True, text=True, timeout=30)


def test_deploy_manifests_validate_against_kubernetes_schemas():
    files = sorted(K8S.glob("*.yaml"))
    assert len(files) >= 6, files
    result = subprocess.run(["kubernetes-validate", "--strict", "-k", KUBERNETES_VERSION, *map(str, files)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in files:
        assert f"INFO {path} passed" in result.stdout, result.stdout


def test_deploy_kubernetes_validate_rejects_a_broken_manifest(tmp_path):
    """The validation above would catch a misspelt field (strict mode)."""
    doc = yaml.safe_load((K8S / "deployment.yaml").read_text())
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = doc["spec"]["template"]["spec"][
        "containers"][0].pop("readinessProbe")
    bad = tmp_path / "deployment.yaml"
    bad.write_text(yaml.safe_dump(doc))
    result = subprocess.run(["kubernetes-validate", "--strict", "-k", KUBERNETES_VERSION, str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "readinessProbes" in result.stdout + result.stderr


def test_deploy_manifests_agree_with_the_routes_file():
    docs = manifests()
    routes = yaml.safe_load(ROUTES.read_text())
    deployment = docs[("Deployment", "trestle")]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    admin_port = int(routes["admin"]["address"].rsplit(":", 1)[1])
    listener_port = int(routes["listeners"][0]["address"].rsplit(":", 1)[1])
    assert ports == {"grpc": listener_port, "admin": admin_port}

    # Probes on the admin port: readiness /readyz (503 while draining), liveness /healthz.
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}

    # The ConfigMap is mounted where the command reads the routes file, with the same text.
    args = container["args"]
    config_path = args[args.index("--config") + 1]
    (mount,) = container["volumeMounts"]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    configmap = docs[("ConfigMap", volume["configMap"]["name"])]
    assert config_path.startswith(mount["mountPath"].rstrip("/") + "/")
    key = config_path[len(mount["mountPath"].rstrip("/")) + 1:]
    assert configmap["data"][key] == ROUTES.read_text()

    # SIGKILL comes only after preStop and the whole shutdown_grace.
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = duration_seconds(routes["shutdown_grace"])
    assert pod["terminationGracePeriodSeconds"] > grace + int(pre_stop[1])

    # Non-root, read-only root file system, no capabilities, resources set, workers = CPU limit.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert "memory" in container["resources"]["limits"]
    assert int(container["resources"]["limits"]["cpu"]) == routes["workers"]

    # Service, PodDisruptionBudget and autoscaler select these pods / this Deployment.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = docs[("Service", "trestle")]
    assert service["spec"]["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["grpc"]  # the admin port stays private
    assert docs[("PodDisruptionBudget", "trestle")]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = docs[("HorizontalPodAutoscaler", "trestle")]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "trestle"}
    assert hpa["spec"]["minReplicas"] >= 2

    # The upstream is a headless Service whose name and port the routes file's cluster uses.
    (headless,) = [d for (kind, _), d in docs.items() if kind == "Service" and d["spec"].get("clusterIP") == "None"]
    name, port = headless["metadata"]["name"], headless["spec"]["ports"][0]["port"]
    assert f"{name}:{port}" in [e for c in routes["clusters"] for e in c["endpoints"]]


def test_deploy_routes_file_passes_trestle_check(tmp_path):
    result = trestle_check(ROUTES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok (1 listeners, 1 clusters, 1 routes)" in result.stdout
    # The ConfigMap's copy too (written out as the pod would see it).
    copy = tmp_path / "routes.yaml"
    copy.write_text(manifests()[("ConfigMap", "trestle-routes")]["data"]["routes.yaml"])
    assert trestle_check(copy).returncode == 0


def unit_settings():
    settings = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_deploy_systemd_unit_verifies(tmp_path):
    # systemd-analyze checks that the executables exist: point the unit at the built binary.
    unit = tmp_path / "trestle.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/trestle", str(harness.TRESTLE_BIN)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr  # no unknown keys or bad values

    s = unit_settings()
    assert s["Type"] == ["notify"]
    assert s["DynamicUser"] == ["yes"]
    assert s["ProtectSystem"] == ["strict"]
    assert s["NoNewPrivileges"] == ["yes"]
    assert s["CapabilityBoundingSet"] == [""]  # empty: the ports are above 1024
    assert s["Restart"] == ["on-failure"]
    assert s["KillSignal"] == ["SIGTERM"]
    assert int(s["LimitNOFILE"][0]) >= 65536
    assert shlex.split(s["ExecReload"][0]) == ["/bin/kill", "-HUP", "$MAINPID"]
    grace = duration_seconds(yaml.safe_load(ROUTES.read_text())["shutdown_grace"])
    assert duration_seconds(s["TimeoutStopSec"][0]) > grace
    assert shlex.split(s["ExecStart"][0])[-2:] == ["--config", "/etc/trestle/routes.yaml"]


def containerfile_stages():
    """[(FROM line, [instructions])] with continuation lines joined."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append((rest, []))
        else:
            stages[-1][1].append((word.upper(), rest))
    return stages


def debian_package_exists(name):
    shown = subprocess.run(["apt-cache", "show", name], capture_output=True, text=True)
    if shown.returncode == 0 and f"Package: {name}" in shown.stdout:
        return True
    # Without package lists (apt-get update never ran), an installed package still proves it.
    return subprocess.run(["dpkg-query", "-W", name], capture_output=True).returncode == 0


def test_deploy_containerfile_stages_and_runtime_packages():
    stages = containerfile_stages()
    assert len(stages) == 2
    (build_from, build), (run_from, run) = stages
    assert re.match(r"docker\.io/library/swift:6\.\d+-bookworm AS build", build_from)
    assert run_from == "docker.io/library/debian:bookworm-slim"
    assert any(k == "RUN" and "swift build -c release --product trestle" in v for k, v in build)
    installs = [v for k, v in run if k == "RUN" and "apt-get install" in v]
    assert len(installs) == 1
    packages = [w for w in installs[0].split("apt-get install", 1)[1].split("&&")[0].split() if not w.startswith("-")]
    assert {"libuv1", "libnghttp2-14", "libssl3"} <= set(packages)
    for package in packages:
        assert debian_package_exists(package), f"{package} is not a Debian package"
    user = [v for k, v in run if k == "USER"]
    assert user and user[-1].split(":")[0] not in ("0", "root")
    assert [v for k, v in run if k == "COPY" and "--from=build" in v]

    # Every Debian package whose library the built binary links is installed in the runtime
    # stage, or part of debian:bookworm-slim itself (the Swift runtime is linked statically there).
    base = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
    ldd = subprocess.run(["ldd", str(harness.TRESTLE_BIN)], capture_output=True, text=True, check=True).stdout
    linked = set()
    for path in re.findall(r"=> (/\S+)", ldd):
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if owner.returncode != 0:
            owner = subprocess.run(["dpkg", "-S", path.replace("/lib/", "/usr/lib/", 1)], capture_output=True, text=True)
        if owner.returncode != 0:
            continue  # the Swift toolchain's own libraries: static in the image
        package = owner.stdout.split(":")[0]
        linked.add(package)
        assert package in base or package in packages, f"{path} ({package}) is not installed in the runtime stage"
    assert {"libuv1", "libnghttp2-14", "libssl3"} <= linked, linked
