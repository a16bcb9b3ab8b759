package LFV::Conf;

# The configuration most tests share: the module in front of the
# simulator, with static credentials the simulator accepts.
#
#   my ($t, $sim) = LFV::Conf->start(http => '...', location => '...',
#                                    workers => 2, server => '...',
#                                    main => '...',
#                                    credentials => 'imds endpoint=...');
#
# Without "credentials", static keys that the simulator is given; with
# it, the simulator accepts what the metadata simulators issue.  setup()
# with t => and sim => writes another configuration for the same test.

use strict;
use warnings;

use LFV::Test;
use LFV::Sim;
use IO::Socket::INET;
use IO::Select;

our $AKID = 'AKIDPOLICY0000000001';
our $SECRET = 'policy-secret-key-0000000000000000000001';

sub setup {
    my ($class, %o) = @_;

    my $t = $o{t} || LFV::Test->new;
    my $keys = exists $o{keys} ? $o{keys}
        : defined $o{credentials} ? undef
        : { $AKID => { secret => $SECRET } };

    my $sim = $o{sim} || LFV::Sim->lfv($t, keys => $keys);

    $t->set(lfv_port => $sim->{port});
    $t->set(ca => $sim->{ca});
    $t->set(workers => $o{workers} || 1);
    for my $k (qw(main http location server)) {
        (my $v = $o{$k} || '') =~ s/%%PREFIX%%/$t->prefix/ge;
        $t->set($k => $v);
    }
    $t->set(credentials => $o{credentials}
        // "static access_key_id=$AKID secret_access_key=$SECRET");

    $t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
%%KEY_main%%

worker_processes %%KEY_workers%%;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    lfv_credentials %%KEY_credentials%%;

    upstream lookoutvision.us-east-1.amazonaws.com {
        server 127.0.0.1:%%KEY_lfv_port%%;
        keepalive 4;
    }

    %%KEY_http%%

    server {
        listen 127.0.0.1:%%PORT_http%%;

        %%KEY_server%%

        location / {
            lfv on;
            lfv_region us-east-1;

            %%KEY_location%%

            include %%LFV_PROXY_PARAMS%%;
            proxy_ssl_trusted_certificate %%KEY_ca%%;
        }
    }
}
EOF

    return ($t, $sim);
}

sub start {
    my ($class, %o) = @_;
    my ($t, $sim) = $class->setup(%o);
    $t->run;
    return ($t, $sim);
}

# a StartModel request: start($t, team => 'x', project => 'p', body => ...)

sub request {
    my ($class, $t, %o) = @_;

    my $uri = '/2020-11-20/projects/' . ($o{project} // 'p') . '/models/'
        . ($o{version} // 1) . '/start';

    return $t->http(method => 'POST', path => $uri, port => $o{port},
        headers => [ 'Content-Type' => 'application/json',
                     defined $o{team} ? ('X-Team' => $o{team}) : (),
                     @{ $o{headers} || [] } ],
        body => $o{body} // '{"MinInferenceUnits":1}');
}

# n StartModel requests of one team at once, to versions 1..n of project,
# spread over the instances in turn (the first takes the odd ones); the
# answers' statuses counted: { 202 => 4, 402 => 8 }

sub burst {
    my ($class, $instances, $team, $project, $n) = @_;
    my (@s, %got);
    for my $i (1 .. $n) {
        my $t = $instances->[($i - 1) % @$instances];
        my $body = '{"MinInferenceUnits":1}';
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('http'),
            Timeout => 5) or die "burst: $!\n";
        print $s "POST /2020-11-20/projects/$project/models/$i/start HTTP/1.1\r\n"
            . "Host: localhost\r\nX-Team: $team\r\nContent-Type: application/json\r\n"
            . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
        push @s, $s;
    }
    for my $s (@s) {
        my ($buf, $sel) = ('', IO::Select->new($s));
        while ($sel->can_read(15)) {
            last unless sysread($s, $buf, 4096, length $buf);
        }
        $got{$buf =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 'none'}++;
    }
    return \%got;
}

1;
