"""Build Dockerfile.gpu and run `probe` in the image; run with the deploy tools' Python (it imports docker).

    python docker_image.py REPO_ROOT

Exit 77 when no Docker engine answers (the test then skips, saying so). On a host whose engine has the NVIDIA
runtime the GPU image is built and probed with the GPUs and --require-nvenc; elsewhere the CPU image is built
(ENABLE_GPU=false) and probed. Prints the probe's JSON on success.
"""

from __future__ import annotations

import json
import sys

import docker

NO_ENGINE = 77


def main(root: str) -> int:
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # the SDK raises DockerException, requests' errors, or FileNotFoundError
        print(f"no Docker engine answers: {exc}")
        return NO_ENGINE
    gpu = "nvidia" in (client.info().get("Runtimes") or {})
    tag = "transcoder-worker:deploy-test-" + ("gpu" if gpu else "cpu")
    image, _ = client.images.build(path=root, dockerfile="Dockerfile.gpu", tag=tag, rm=True, pull=True,
                                   buildargs={"ENABLE_GPU": "true" if gpu else "false"})
    config = image.attrs["Config"]
    assert config["Entrypoint"] == ["python", "-m", "worker"] and config["Cmd"] == ["run"], config
    assert config["User"] == "10001:10001", config["User"]
    args = ["probe", "--require-nvenc"] if gpu else ["probe"]
    requests = [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])] if gpu else None
    output = client.containers.run(tag, args, remove=True, stdout=True, stderr=False, read_only=True,
                                   tmpfs={"/tmp": ""}, device_requests=requests)
    data = json.loads(output)
    assert {"gpus", "ffmpeg", "nvenc"} <= set(data), sorted(data)
    print(json.dumps({"image": tag, "gpu": gpu, "probe": data}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
