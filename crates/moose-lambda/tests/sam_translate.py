"""Translates deploy/template.yaml with AWS's SAM translator (PyPI aws-sam-translator), as
`sam deploy` does after packaging, and prints the resulting resources as JSON. Used by the
`the_sam_translator_accepts_the_template` test."""
import json, sys
from samtranslator.yaml_helper import yaml_parse
from samtranslator.translator.transform import transform

class Policies:
    def load(self):
        return {}

template = yaml_parse(open(sys.argv[1]).read())
# What `sam package` does before the transform: the local zip becomes an S3 object.
template["Globals"]["Function"]["CodeUri"] = "s3://moose-artifacts/bootstrap.zip"
parameters = {"SolarWebAccessKeyId": "x", "SolarWebAccessKeyValue": "y"}
# Optional: parameter overrides as JSON, as `sam deploy --parameter-overrides` passes them.
if len(sys.argv) > 2:
    parameters.update(json.loads(sys.argv[2]))
out = transform(template, parameters, Policies())
print(json.dumps(out["Resources"]))
