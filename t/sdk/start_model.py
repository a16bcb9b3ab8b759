#!/usr/bin/python3
"""Calls StartModel through the proxy the way an internal app does: boto3
with no credentials (signature_version=UNSIGNED) and endpoint_url at nginx.
Prints one JSON line: {"status": ...} or {"error": code, "http": status}."""

import json
import sys

import boto3
from botocore import UNSIGNED
from botocore.config import Config


def main():
    endpoint, project, version, min_units = sys.argv[1:5]
    max_units = sys.argv[5] if len(sys.argv) > 5 else None

    client = boto3.client(
        'lookoutvision', region_name='us-east-1', endpoint_url=endpoint,
        config=Config(signature_version=UNSIGNED,
                      retries={'max_attempts': 1}))

    args = {'ProjectName': project, 'ModelVersion': version,
            'MinInferenceUnits': int(min_units)}
    if max_units:
        args['MaxInferenceUnits'] = int(max_units)

    try:
        out = client.start_model(**args)
        print(json.dumps({'status': out['Status']}))
    except client.exceptions.ClientError as e:
        print(json.dumps({
            'error': e.response['Error']['Code'],
            'message': e.response['Error'].get('Message'),
            'http': e.response['ResponseMetadata']['HTTPStatusCode'],
            'class': type(e).__name__}))


if __name__ == '__main__':
    main()
