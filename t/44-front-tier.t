#!/usr/bin/perl

# docs/operations.md's front tier: a plain nginx location names the team
# and the caller's address and passes to the proxy over a unix socket;
# the proxy takes both with realip and a geo on $realip_remote_addr, so
# the audit line names the real caller and a direct caller gets nothing.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);

use lib 't/lib';
use LFV::Test;
use LFV::Sim;
use LFV::Conf;

my $t = LFV::Test->new;
my $sock = $t->prefix . '/proxy.sock';
my $front = $t->port('front');

LFV::Conf->start(t => $t,
    http => <<"EOF",
    lfv_policy_zone teams:1m;
    lfv_policy vision-qa projects=qa-.*;

    log_format audit escape=json '{"remote_addr":"\$remote_addr",'
        '"team":"\$lfv_team","decision":"\$lfv_decision","reason":"\$lfv_reason"}';

    # the front tier: it decides the team, overwrites what a client sent
    server {
        listen 127.0.0.1:$front;

        location / {
            proxy_pass http://unix:$sock;
            proxy_set_header X-Team vision-qa;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
EOF
    server => <<"EOF",
        listen unix:$sock;

        set_real_ip_from unix:;
        real_ip_header X-Real-IP;

        access_log %%PREFIX%%/audit.log audit;
EOF
    location => <<'EOF');
            if ($realip_remote_addr != "unix:") {
                return 403 "only through the front tier\n";
            }

            lfv_team $http_x_team;
EOF

sub audit {
    my ($count) = @_;
    my $deadline = time + 10;
    while (1) {
        my @a;
        if (open my $fh, '<', $t->prefix . '/audit.log') {
            @a = map { decode_json($_) } grep { /\S/ } <$fh>;
        }
        return @a if @a >= $count || time > $deadline;
        sleep 0.05;
    }
}

my $uri = '/2020-11-20/projects/qa-1/models/1/start';
my @req = (method => 'POST', path => $uri,
    headers => [ 'Content-Type' => 'application/json', 'X-Team' => 'someone-else',
                 'X-Real-IP' => '10.9.9.9' ],
    body => '{"MinInferenceUnits":1}');

my $r = $t->http(@req, port => 'front');
is($r->{status}, 202, 'through the front tier: 202');

my ($a) = audit(1);
is($a->{remote_addr}, '127.0.0.1', 'the audit line names the caller, not "unix:"');
is($a->{team}, 'vision-qa', "the front tier's team, not the client's X-Team");
is("$a->{decision}/$a->{reason}", 'forwarded/forwarded', 'forwarded');

# straight to the proxy: the client's X-Team and X-Real-IP are not trusted

$r = $t->http(@req);
is($r->{status}, 403, 'straight to the proxy: refused');
is($r->{body}, "only through the front tier\n", 'by the front-tier check');

my @a = audit(2);
is($a[1]{remote_addr}, '127.0.0.1', 'a direct caller: its own address, not its X-Real-IP');

$t->done;
