#!/usr/bin/perl

# Configuration mistakes fail "nginx -t" with a clear [emerg] naming the
# file and line; secrets given in the configuration are never echoed.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use LFV::Test;

my $t = LFV::Test->new;
my $out;

# lfv_proxy_params verifies TLS: a CA file of our own for it
my $ca = $t->prefix . '/ca.pem';
$out = `openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=lfv-config-test -keyout '$ca.key' -out '$ca' 2>&1`;
-s $ca or BAIL_OUT("no CA certificate: $out");
$t->set(ca => $ca);

# nginx -t on a configuration with these http and location lines

sub conf_test {
    my ($http, $location, $params) = @_;

    $t->set(http => $http);
    $t->set(location => $location);
    $t->set(params => $params // 'include ' . $t->repo . '/ngx_lfv_module/lfv_proxy_params;'
        . ' proxy_ssl_trusted_certificate ' . $t->get('ca') . ';');

    $t->write_conf(<<'EOF');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    %%KEY_http%%

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location / {
            %%KEY_location%%
            %%KEY_params%%
        }
    }
}
EOF

    return $t->nginx_test;
}

sub conf_error {
    my ($http, $location, $expect, $name) = @_;

    my ($ok, $out) = conf_test($http, $location);
    my $conf = $t->prefix . '/nginx.conf';

    ok(!$ok, "$name: nginx -t fails");
    like($out, qr/\[emerg\] \Q$expect\E in \Q$conf\E:\d+/, "$name: message")
        or diag $out;

    return $out;
}

# errors about an "lfv on" location name the line of "lfv on"

my $conf = $t->prefix . '/nginx.conf';
my $lfv_line;

$out = conf_error('lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv on;', '"lfv_region" is not set for "lfv on"', 'no region');
{
    open my $fh, '<', $conf or die;
    my $n = 0;
    while (<$fh>) { $n++; $lfv_line = $n if /^\s*lfv on;/ }
}
like($out, qr/"lfv on" in \Q$conf\E:$lfv_line\b/,
    "no region: names the line of \"lfv on\" ($lfv_line)");

conf_error('lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv on; lfv_region US_EAST;',
    '"lfv_region" directive has an invalid region name', 'bad region');

conf_error('lfv_credentials sts;', 'lfv on; lfv_region us-east-1;',
    'invalid credentials provider "sts"', 'unknown provider');

conf_error('lfv_credentials static access_key_id=A;',
    'lfv on; lfv_region us-east-1;',
    '"lfv_credentials static" needs access_key_id= and secret_access_key=',
    'static without secret');

$out = conf_error(
    'lfv_credentials static access_key_id=A secret_access_key=S secret=TOPSECRET;',
    'lfv on; lfv_region us-east-1;', 'invalid parameter "secret"',
    'unknown static parameter');
unlike($out, qr/TOPSECRET/, 'value of a bad parameter not echoed');

conf_error('lfv_credentials env; lfv_credentials auto;',
    'lfv on; lfv_region us-east-1;',
    '"lfv_credentials" directive is duplicate', 'duplicate credentials');

conf_error('lfv_credentials env extra;', 'lfv on; lfv_region us-east-1;',
    'invalid parameter "extra"', 'parameter after env');

conf_error('lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv on; lfv_region us-east-1; lfv_body_max_size 100k;',
    'value must be between 1 and 65536', 'body cap too large');

conf_error('lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv maybe; lfv_region us-east-1;',
    'invalid value "maybe" in "lfv" directive, it must be "on" or "off"',
    'lfv flag');

conf_error('', 'lfv_credentials env;',
    '"lfv_credentials" directive is not allowed here', 'credentials context');

# the signature goes only where lfv_proxy_params sends it

my ($ok, $o) = conf_test('lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv on; lfv_region us-east-1;', 'proxy_pass https://127.0.0.1:1;');
ok(!$ok, 'lfv on without lfv_proxy_params: nginx -t fails');
like($o, qr/\[emerg\] "lfv on" in \Q$conf\E:\d+: the signature is sent nowhere; add "include lfv_proxy_params;" to its location/,
    'lfv on without lfv_proxy_params: message') or diag $o;

# a proxy_pass of one's own beside the include could send another host
# or URI than the one signed

($ok, $o) = conf_test('lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv on; lfv_region us-east-1; proxy_pass https://127.0.0.1:1/x/;');
ok(!$ok, 'own proxy_pass with a URI part beside lfv_proxy_params: nginx -t fails');
like($o, qr/\[emerg\] "proxy_pass" directive is duplicate in \S*lfv_proxy_params:\d+/,
    'own proxy_pass: refused at the include') or diag $o;

# and a good one passes

($ok, $o) = conf_test(
    'lfv_credentials static access_key_id=A secret_access_key=S;',
    'lfv on; lfv_region eu-west-1; lfv_body_max_size 4k;');
ok($ok, 'valid configuration passes') or diag $o;

$t->done;
