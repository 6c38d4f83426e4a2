#!/usr/bin/env python3
"""Checks that the Lambda functions and their images are for one architecture.

LAMBDA_ARCHITECTURE, in the top-level env of .github/workflows/deploy.yml, is the one
setting: the deploy job builds the images for its platform and passes it to Terraform
as lambda_architecture. Lambda runs an image only on the architecture it was built for
(and accepts no multi-architecture image index), so this check fails when:

  - Terraform's default of lambda_architecture (infrastructure/apps/s3-clamav-scanner/
    variables.tf) differs from it: an apply outside the workflow would create functions
    that cannot run the images the workflow pushes;
  - a module under infrastructure/modules/ declares an architecture variable (any variable
    whose name contains "architecture") whose default differs from it: a caller that
    forgets to pass one would get functions for another architecture;
  - a var file under envs/ sets lambda_architecture: the workflow's -var would silently
    override it;
  - a job that builds the images (docker build) or tests them (Tests/suites/images.sh)
    runs on a runner of another architecture: a foreign-platform docker build needs
    emulation (a Swift release build under QEMU does not fit the job's time), and the
    image test would test an architecture that is not deployed;
  - a docker build does not pass --platform "$platform" (the platform mapped from
    LAMBDA_ARCHITECTURE), or a full terraform plan/apply of the app does not pass
    -var "lambda_architecture=$LAMBDA_ARCHITECTURE".

    Tests/lint/check-architecture.py              the check; one line per problem, exit 1
    Tests/lint/check-architecture.py --platform   the check, then print the OCI platform
                                               (linux/amd64 or linux/arm64)
"""

import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_WORKFLOW = WORKFLOWS / "deploy.yml"
APP_ROOT = ROOT / "infrastructure" / "apps" / "s3-clamav-scanner"
MODULES = ROOT / "infrastructure" / "modules"

# Lambda's names and the OCI platform, and whether GitHub's runner label for it ends in
# "-arm" (ubuntu-24.04 is x86_64, ubuntu-24.04-arm is arm64).
PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}


def variable_defaults(variables_tf: pathlib.Path) -> dict[str, str | None]:
    """Each variable of a file whose name contains "architecture": its default (a string
    literal), or None when it has none (the caller must pass it)."""
    defaults = {}
    text = variables_tf.read_text()
    for block in re.finditer(r'^variable\s+"([^"]*architecture[^"]*)"\s*\{(.*?)^\}', text, re.S | re.M):
        default = re.search(r'^\s*default\s*=\s*"([^"]*)"', block.group(2), re.M)
        defaults[block.group(1)] = default.group(1) if default else None
    return defaults


def terraform_default(variables_tf: pathlib.Path) -> str | None:
    """The default of variable "lambda_architecture" (a string literal)."""
    return variable_defaults(variables_tf).get("lambda_architecture")


def run_scripts(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def main() -> int:
    if sys.argv[1:] not in ([], ["--platform"]):
        print("usage: check-architecture.py [--platform]", file=sys.stderr)
        return 2
    problems = []
    deploy = yaml.safe_load(DEPLOY_WORKFLOW.read_text())
    architecture = (deploy.get("env") or {}).get("LAMBDA_ARCHITECTURE")
    if architecture not in PLATFORMS:
        print(f"{DEPLOY_WORKFLOW.relative_to(ROOT)}: env LAMBDA_ARCHITECTURE is {architecture!r}, "
              f"not one of {', '.join(PLATFORMS)}", file=sys.stderr)
        return 1

    default = terraform_default(APP_ROOT / "variables.tf")
    if default != architecture:
        problems.append(f"Terraform's lambda_architecture defaults to {default!r} but the deploy "
                        f"workflow builds the images for LAMBDA_ARCHITECTURE={architecture} "
                        f"({PLATFORMS[architecture]})")
    for variables_tf in sorted(MODULES.glob("*/*.tf")):
        for name, value in variable_defaults(variables_tf).items():
            if value is not None and value != architecture:
                problems.append(f"{variables_tf.relative_to(ROOT)}: variable {name} defaults to {value!r}, "
                                f"not LAMBDA_ARCHITECTURE={architecture}: set it to {architecture!r} or drop the default")
    for var_file in sorted((APP_ROOT / "envs").glob("*.tfvars")):
        if re.search(r"^\s*lambda_architecture\s*=", var_file.read_text(), re.M):
            problems.append(f"{var_file.relative_to(ROOT)} sets lambda_architecture; the deploy "
                            "workflow overrides it with LAMBDA_ARCHITECTURE: change that instead")

    wants_arm_runner = architecture == "arm64"
    for workflow in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in (yaml.safe_load(workflow.read_text()).get("jobs") or {}).items():
            where = f"{workflow.relative_to(ROOT)} job {name}"
            script = run_scripts(job)
            if re.search(r"docker (buildx )?build|test-images\.sh", script):
                runner = str(job.get("runs-on", ""))
                if runner.endswith("-arm") != wants_arm_runner:
                    problems.append(f"{where} builds or tests the images on {runner}, which is not "
                                    f"{architecture}")
            for line in re.findall(r"docker (?:buildx )?build[^\n]*", script):
                if '--platform "$platform"' not in line:
                    problems.append(f"{where}: docker build without --platform \"$platform\": {line}")
            if "docker build" in script and "$LAMBDA_ARCHITECTURE" not in script:
                problems.append(f"{where}: $platform does not come from $LAMBDA_ARCHITECTURE")
            for command in re.findall(r'terraform-root\.sh "\$APP_ROOT" (?:plan|apply)(?:[^\n]*\\\n)*[^\n]*', script):
                if "-target=" not in command and \
                        '-var "lambda_architecture=$LAMBDA_ARCHITECTURE"' not in command:
                    problems.append(f"{where}: the app's plan/apply does not pass "
                                    f"-var \"lambda_architecture=$LAMBDA_ARCHITECTURE\"")

    for problem in problems:
        print(f"check-architecture: {problem}", file=sys.stderr)
    if problems:
        return 1
    if sys.argv[1:]:
        print(PLATFORMS[architecture])
    else:
        print(f"check-architecture: ok, {architecture} ({PLATFORMS[architecture]}) in the workflow, "
              "Terraform's defaults (app and modules) and the image jobs' runners")
    return 0


if __name__ == "__main__":
    sys.exit(main())
