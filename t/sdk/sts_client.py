#!/usr/bin/python3
"""STS calls with boto3, and calls to Lookout for Vision with the keys they give.

    sts_client.py web ENDPOINT CA ROLE_ARN SESSION TOKEN [--duration N]
        AssumeRoleWithWebIdentity (unsigned, as boto3 sends it); TOKEN or @FILE
    sts_client.py assume ENDPOINT CA AKID SECRET SESSION_TOKEN ROLE_ARN SESSION
            [--duration N] [--source-identity S] [--tag KEY=VALUE ...]
            [--transitive KEY ...] [--external-id X] [--unsigned]
        AssumeRole signed with AKID / SECRET (SESSION_TOKEN "-": none)
    sts_client.py lfv ENDPOINT CA AKID SECRET SESSION_TOKEN OPERATION PROJECT VERSION
        describe_model or start_model (MinInferenceUnits=1) signed with those keys

CA is the bundle to verify an https ENDPOINT with ("-": the system's).
Prints one JSON object: {"ok": response} (ResponseMetadata dropped,
datetimes as ISO 8601), {"error": code, "message": ..., "http": status}
for an AWS error, or {"exception": class, "message": ...} when no AWS
answer was parsed (TLS, connection, parse errors). One attempt, no
retries, bounded timeouts. Needs Debian's python3-boto3: run with
/usr/bin/python3.
"""

import argparse
import json

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError


def config(unsigned=False):
    kw = {'retries': {'total_max_attempts': 1}, 'connect_timeout': 5, 'read_timeout': 15}
    if unsigned:
        kw['signature_version'] = UNSIGNED
    return Config(**kw)


def client(service, a, akid=None, secret=None, token=None, unsigned=False):
    return boto3.client(
        service, region_name='us-east-1', endpoint_url=a.endpoint,
        verify=None if a.ca == '-' else a.ca,
        aws_access_key_id=akid, aws_secret_access_key=secret,
        aws_session_token=None if token in (None, '-') else token,
        config=config(unsigned))


def call(fn, **kw):
    try:
        r = fn(**kw)
    except ClientError as e:
        return {'error': e.response['Error'].get('Code'),
                'message': e.response['Error'].get('Message'),
                'http': e.response['ResponseMetadata'].get('HTTPStatusCode')}
    except Exception as e:          # TLS, connection, a document botocore cannot parse
        return {'exception': type(e).__name__, 'message': str(e)}
    r.pop('ResponseMetadata', None)
    return {'ok': json.loads(json.dumps(r, default=lambda d: d.isoformat()))}


def web(a):
    token = a.token
    if token.startswith('@'):
        with open(token[1:]) as f:
            token = f.read().strip()
    # boto3 sends this operation unsigned whatever credentials it has: give it none
    sts = client('sts', a, unsigned=True)
    kw = {'RoleArn': a.role_arn, 'RoleSessionName': a.session, 'WebIdentityToken': token}
    if a.duration is not None:
        kw['DurationSeconds'] = a.duration
    return call(sts.assume_role_with_web_identity, **kw)


def assume(a):
    sts = client('sts', a, a.akid, a.secret, a.session_token, a.unsigned)
    kw = {'RoleArn': a.role_arn, 'RoleSessionName': a.session}
    if a.duration is not None:
        kw['DurationSeconds'] = a.duration
    if a.source_identity is not None:
        kw['SourceIdentity'] = a.source_identity
    if a.external_id is not None:
        kw['ExternalId'] = a.external_id
    if a.tag:
        kw['Tags'] = [dict(zip(('Key', 'Value'), t.split('=', 1))) for t in a.tag]
    if a.transitive:
        kw['TransitiveTagKeys'] = a.transitive
    return call(sts.assume_role, **kw)


def lfv(a):
    c = client('lookoutvision', a, a.akid, a.secret, a.session_token)
    if a.operation == 'describe_model':
        return call(c.describe_model, ProjectName=a.project, ModelVersion=a.version)
    if a.operation == 'start_model':
        return call(c.start_model, ProjectName=a.project, ModelVersion=a.version,
                    MinInferenceUnits=1)
    return {'exception': 'usage', 'message': 'unknown operation %s' % a.operation}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest='what', required=True)
    p = sub.add_parser('web')
    for name in ('endpoint', 'ca', 'role_arn', 'session', 'token'):
        p.add_argument(name)
    p.add_argument('--duration', type=int)
    p = sub.add_parser('assume')
    for name in ('endpoint', 'ca', 'akid', 'secret', 'session_token', 'role_arn', 'session'):
        p.add_argument(name)
    p.add_argument('--duration', type=int)
    p.add_argument('--source-identity')
    p.add_argument('--external-id')
    p.add_argument('--tag', action='append')
    p.add_argument('--transitive', action='append')
    p.add_argument('--unsigned', action='store_true')
    p = sub.add_parser('lfv')
    for name in ('endpoint', 'ca', 'akid', 'secret', 'session_token', 'operation', 'project',
                 'version'):
        p.add_argument(name)
    a = ap.parse_args()
    print(json.dumps({'web': web, 'assume': assume, 'lfv': lfv}[a.what](a)))


if __name__ == '__main__':
    main()
