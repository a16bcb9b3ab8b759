#!/usr/bin/python3
"""A model's hosting cycle through the proxy with boto3, unsigned.

    hosting_cycle.py ENDPOINT TEAM cycle PROJECT
        describe (TRAINED), start, describe until HOSTED, stop, describe
        until TRAINED, then every page of list_models with MaxResults=1
    hosting_cycle.py ENDPOINT TEAM call OPERATION PROJECT [VERSION]
        one call: start_model, stop_model, describe_model, list_models

Prints one JSON object.  TEAM goes in X-Team ("-": none).  Every wait is
bounded.  Needs Debian's python3-boto3: run with /usr/bin/python3.
"""

import json
import sys
import time

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError


def client(endpoint, team):
    c = boto3.client('lookoutvision', region_name='us-east-1',
                     endpoint_url=endpoint,
                     config=Config(signature_version=UNSIGNED,
                                   retries={'max_attempts': 1}))
    if team != '-':
        def add_team(request, **kwargs):
            request.headers['X-Team'] = team
        c.meta.events.register('before-send', add_team)
    return c


def call(c, op, project, version=None):
    try:
        if op == 'start_model':
            r = c.start_model(ProjectName=project, ModelVersion=version,
                              MinInferenceUnits=1)
        elif op == 'stop_model':
            r = c.stop_model(ProjectName=project, ModelVersion=version)
        elif op == 'describe_model':
            r = c.describe_model(ProjectName=project, ModelVersion=version)
        elif op == 'list_models':
            r = c.list_models(ProjectName=project)
        else:
            return {'error': 'unknown operation %s' % op}
    except ClientError as e:
        return {'error': e.response['Error']['Code'],
                'message': e.response['Error'].get('Message', ''),
                'http': e.response['ResponseMetadata']['HTTPStatusCode']}
    r.pop('ResponseMetadata', None)
    return {'ok': json.loads(json.dumps(r, default=str))}


def wait_status(c, project, want):
    seen = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        d = c.describe_model(ProjectName=project, ModelVersion='1')
        status = d['ModelDescription']['Status']
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == want:
            break
        time.sleep(0.2)
    return seen


def cycle(c, project):
    out = {}
    out['before'] = c.describe_model(ProjectName=project,
                                     ModelVersion='1')['ModelDescription']['Status']
    out['start'] = c.start_model(ProjectName=project, ModelVersion='1',
                                 MinInferenceUnits=1)['Status']
    out['to_hosted'] = wait_status(c, project, 'HOSTED')
    out['stop'] = c.stop_model(ProjectName=project, ModelVersion='1')['Status']
    out['to_trained'] = wait_status(c, project, 'TRAINED')

    pages, token = [], None
    for _ in range(20):
        kw = {'ProjectName': project, 'MaxResults': 1}
        if token:
            kw['NextToken'] = token
        r = c.list_models(**kw)
        pages.append([m['ModelVersion'] for m in r['Models']])
        token = r.get('NextToken')
        if not token:
            break
    out['pages'] = pages
    return out


def main():
    endpoint, team, what = sys.argv[1:4]
    c = client(endpoint, team)
    if what == 'cycle':
        out = cycle(c, sys.argv[4])
    else:
        out = call(c, *sys.argv[4:])
    print(json.dumps(out))


if __name__ == '__main__':
    main()
