#!/usr/bin/env python3
"""One environment's infrastructure from the templates in infra/: a what-if, then the deployment, then the
deployment's outputs as `key=value` lines for $GITHUB_OUTPUT.

    infra_deploy.py --env dev --resource-group rg-transcoder-dev --alert-email ops@example.com \
        --dashboard-client-id 11111111-2222-3333-4444-555555555555
    infra_deploy.py --env staging --resource-group rg-transcoder-staging --blob-events    # after the code deploy
    infra_deploy.py --env production-eastus --resource-group rg-transcoder-prod-eastus --what-if-only
    infra_deploy.py --env production-eastus --resource-group rg-transcoder-prod-eastus --outputs-only

`--env NAME` picks `infra/params/NAME.parameters.json`; the template is the compiled `build/infra/main.json`
(`az bicep build --file infra/main.bicep --outdir build/infra`, the `infra-templates` artifact of the validation
job). Every deployment is preceded by `az deployment group what-if` with the same arguments, printed and written to
`--what-if-file`. `alertEmail`, `dashboardClientId` (the Entra ID app registration the dashboard signs in with) and
`pipelinePrincipalId` are given on the command line (or ALERT_EMAIL, DASHBOARD_CLIENT_ID and PIPELINE_PRINCIPAL_ID),
never in a file. The Event Grid subscription needs the Function's code first (its
blobs_extension key): deploy without `--blob-events` (enableBlobEvents=false), deploy the code, then deploy again
with `--blob-events`. Each template output is printed as its snake_case name (`mediaStorageAccountName` ->
`media_storage_account_name=...`), after `resource_group=` and `deployment=`.

--dry-run (or DRY_RUN=1) prints the commands instead, and each output as `<outputName>`. Exits 0 when deployed,
1 when a command failed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from deploylib import Runner, dry_run_env, log

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def snake(name: str) -> str:
    """`mediaStorageAccountName` -> `media_storage_account_name`."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def template_outputs(bicep: Path) -> list[str]:
    """The output names a Bicep file declares, in order (the dry run's placeholders)."""
    return re.findall(r"^output\s+(\w+)\s", bicep.read_text(encoding="utf-8"), flags=re.M)


def output_lines(group: str, deployment: str, outputs: dict[str, Any]) -> list[str]:
    """`key=value` lines: the group, the deployment, then every output (ARM's {name: {type, value}})."""
    lines = [f"resource_group={group}", f"deployment={deployment}"]
    for name, entry in outputs.items():
        value = entry.get("value") if isinstance(entry, dict) else entry
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = value
        else:
            text = json.dumps(value, separators=(",", ":"))
        if "\n" in text:
            raise ValueError(f"output {name} spans lines: not a $GITHUB_OUTPUT value")
        lines.append(f"{snake(name)}={text}")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--env", required=True, help="parameter file infra/params/ENV.parameters.json")
    p.add_argument("--resource-group", required=True, help="the group the stack is deployed to")
    p.add_argument("--name", help="deployment name (default: transcoder-ENV)")
    p.add_argument("--template-file", type=Path, default=Path("build/infra/main.json"), help="compiled template")
    p.add_argument("--params-dir", type=Path, default=Path("infra/params"), help="where the parameter files are")
    p.add_argument("--alert-email", default=os.environ.get("ALERT_EMAIL", ""),
                   help="alertEmail (also $ALERT_EMAIL)")
    p.add_argument("--dashboard-client-id", default=os.environ.get("DASHBOARD_CLIENT_ID", ""),
                   help="dashboardClientId: the dashboard's Entra ID app registration (also $DASHBOARD_CLIENT_ID)")
    p.add_argument("--pipeline-principal-id", default=os.environ.get("PIPELINE_PRINCIPAL_ID", ""),
                   help="pipelinePrincipalId: object id of the deploying identity (also $PIPELINE_PRINCIPAL_ID)")
    p.add_argument("--blob-events", action="store_true",
                   help="enableBlobEvents=true: the second deployment, once the Function's code is deployed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PARAM=VALUE",
                   help="override a parameter of the file (repeatable)")
    p.add_argument("--create-group", action="store_true",
                   help="create the resource group first, in the file's (or --set) location")
    p.add_argument("--what-if-file", type=Path,
                   help="where the what-if goes (default: build/infra/what-if-ENV[-events].txt)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--what-if-only", action="store_true", help="the what-if, no deployment")
    mode.add_argument("--outputs-only", action="store_true", help="the outputs of the last deployment only")
    p.add_argument("-n", "--dry-run", action="store_true", default=dry_run_env(),
                   help="print the commands instead of running them (also DRY_RUN=1)")
    args = p.parse_args(argv)
    args.name = args.name or f"transcoder-{args.env}"
    suffix = "-events" if args.blob_events else ""
    args.what_if_file = args.what_if_file or Path("build/infra") / f"what-if-{args.env}{suffix}.txt"
    return args


def parameter_args(args: argparse.Namespace, params_file: Path) -> list[str]:
    pairs = [f"alertEmail={args.alert_email}", f"dashboardClientId={args.dashboard_client_id}",
             f"pipelinePrincipalId={args.pipeline_principal_id}",
             f"enableBlobEvents={'true' if args.blob_events else 'false'}"]
    for item in args.overrides:
        name, sep, value = item.partition("=")
        if not sep or not _NAME.match(name):
            raise ValueError(f"--set {item!r}: give PARAM=VALUE")
        if name in {"alertEmail", "dashboardClientId", "pipelinePrincipalId", "enableBlobEvents"}:
            raise ValueError(f"--set {name}: use its own option")
        pairs.append(f"{name}={value}")
    return ["--parameters", f"@{params_file}", "--parameters", *pairs]


def location_of(args: argparse.Namespace, values: dict[str, Any]) -> str:
    overrides: list[str] = args.overrides
    for item in reversed(overrides):
        name, _, value = item.partition("=")
        if name == "location":
            return value
    location = values.get("location", {}).get("value")
    if not isinstance(location, str) or not location:
        raise ValueError(f"--create-group: no location in {args.env}'s parameter file; --set location=REGION")
    return location


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runner = Runner(args.dry_run)
    group, name = args.resource_group, args.name
    params_file = args.params_dir / f"{args.env}.parameters.json"
    source: list[str] = []
    try:
        if not params_file.is_file():
            raise ValueError(f"no parameter file {params_file} for --env {args.env}")
        values = json.loads(params_file.read_text(encoding="utf-8")).get("parameters", {})
        deploys = not args.outputs_only
        if deploys:
            if not args.alert_email:
                raise ValueError("--alert-email (or ALERT_EMAIL) is required: main.bicep has no default")
            if not args.dashboard_client_id:
                raise ValueError("--dashboard-client-id (or DASHBOARD_CLIENT_ID) is required: main.bicep has no "
                                 "default")
            if not args.dry_run and not args.template_file.is_file():
                raise ValueError(f"no compiled template {args.template_file}: "
                                 "az bicep build --file infra/main.bicep --outdir build/infra")
            parameters = parameter_args(args, params_file)
            source = ["--template-file", str(args.template_file), *parameters]
    except (OSError, ValueError) as exc:
        log(f"infra_deploy: {exc}")
        return EXIT_BAD_INPUT

    try:
        if deploys:
            if args.create_group:
                runner.run(["az", "group", "create", "--name", group, "--location", location_of(args, values),
                            "--output", "none"])
            what_if = runner.run(["az", "deployment", "group", "what-if", "--resource-group", group, "--name", name,
                                  *source], capture=True)
            if not args.dry_run:
                args.what_if_file.parent.mkdir(parents=True, exist_ok=True)
                args.what_if_file.write_text(what_if, encoding="utf-8")
                log(what_if.rstrip())
                log(f"infra_deploy: what-if of {args.env} in {group} written to {args.what_if_file}")
            if args.what_if_only:
                return EXIT_OK
            runner.run(["az", "deployment", "group", "create", "--resource-group", group, "--name", name, *source,
                        "--output", "none"])
        shown = runner.run(["az", "deployment", "group", "show", "--resource-group", group, "--name", name,
                            "--query", "properties.outputs", "--output", "json"], capture=True)
        if args.dry_run:
            bicep = args.params_dir.parent / "main.bicep"
            outputs: dict[str, Any] = {o: {"value": f"<{o}>"} for o in template_outputs(bicep)}
        else:
            outputs = json.loads(shown or "{}") or {}
        lines = output_lines(group, name, outputs)
    except (OSError, ValueError) as exc:
        log(f"infra_deploy: {exc}")
        return EXIT_BAD_INPUT
    except RuntimeError as exc:
        log(f"infra_deploy: {args.env} in {group}: {exc}")
        return EXIT_FAILED
    print("\n".join(lines), flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
