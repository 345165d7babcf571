"""Lambda functions, versions and aliases on the local AWS emulator (moto), set up and read with
boto3 (which moto is built on), independently of the Moose code under test.

  lambda_fixture.py ENDPOINT setup PREFIX SPEC   SPEC: JSON {"function": {"versions": N,
                                                 "live": "V", "canary": {"V": weight}}}
  lambda_fixture.py ENDPOINT aliases PREFIX NAMES...   prints {"name": {"version", "weights"}}
"""
import io, json, sys, zipfile

import boto3

endpoint, command, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
session = dict(endpoint_url=endpoint, region_name="us-east-1",
               aws_access_key_id="moose-test", aws_secret_access_key="moose-test")
lam = boto3.client("lambda", **session)


def code(n):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", f"#!/bin/sh\n# build {n}\n")
    return buf.getvalue()


if command == "setup":
    iam = boto3.client("iam", **session)
    role = iam.create_role(RoleName=f"{prefix}role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    for name, spec in json.loads(sys.argv[4]).items():
        fn = prefix + name
        lam.create_function(FunctionName=fn, Runtime="provided.al2023", Role=role,
                            Handler="bootstrap", Code={"ZipFile": code(0)})
        for n in range(1, spec["versions"] + 1):
            lam.update_function_code(FunctionName=fn, ZipFile=code(n))
            lam.publish_version(FunctionName=fn, Description=f"build {n}")
        routing = {"AdditionalVersionWeights": spec.get("canary", {})}
        lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=spec["live"],
                         RoutingConfig=routing)
    print("ok")
elif command == "aliases":
    out = {}
    for name in sys.argv[4:]:
        a = lam.get_alias(FunctionName=prefix + name, Name="live")
        out[name] = {"version": a["FunctionVersion"],
                     "weights": a.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})}
    print(json.dumps(out))
