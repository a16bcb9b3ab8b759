package LFV::Sim;

# Starts the simulators under t/sim for a test and reads what they saw.
#
#   my $sim = LFV::Sim->lfv($t, keys => { AKID => { secret => 'S' } });
#   $sim->{port}, $sim->{ca}, $sim->journal, $sim->set_keys({...}), $sim->add_keys({...}),
#   $sim->control(POST => 'model', {...}) (plain HTTP on the TLS port, as sts')
#   my $imds = LFV::Sim->imds($t, %args);   $imds->control(POST => 'fault', {...})
#   (name => 'imds2' starts a second one beside the first)
#   my $sts = LFV::Sim->sts($t, args => [ '--token-file', $file, '--role', $arn ]);
#   $sts->{port}, $sts->{ca} (unless --plain), $sts->journal, $sts->control(...)
#   (name => 'sts2' a second one; the control API is plain HTTP on the same
#   port also when the service is HTTPS)
#   my $dns = LFV::Sim->dns($t, args => [ '--name', 'sts.test=127.0.0.1' ]);
#   $dns->{port} (UDP: "resolver 127.0.0.1:$dns->{port}"), $dns->journal,
#   $dns->control(POST => 'names', {...}) (name => 'dns2' a second one; its
#   control API is plain HTTP on TCP, with the same port number)
#   my $ddb = LFV::Sim->dynalite($t);     (npm's dynalite, from make dynalite)
#   $ddb->{port}, $ddb->{url}, $ddb->create_table('lfv-teams'),
#   my ($answer, $status, $res) = $ddb->call(GetItem => { TableName => ..., Key => ... }),
#   my ($body, $status, $res) = $ddb->call_raw(GetItem => $json_text) (raw body both ways),
#   $ddb->stop_store, $ddb->start_store (same port; path => 'db' keeps the
#   data in prefix/dynalite/db across a restart, else it is lost)
#   my $px = LFV::Sim->ddb_proxy($t, upstream => $ddb);   fault proxy in front
#   of it: $px->call(...), $px->control(POST => 'fault', {...}), $px->journal
#
# All of them but dns share one keys file, prefix/keys.json (lfv: keys_file => FILE
# to use another; sts too). set_keys replaces it, add_keys merges into it,
# both under the lock the simulators take (FILE.lock), so a key set that
# imds/container/sts issue at the same moment is not lost.

use strict;
use warnings;

use JSON::PP;
use IO::Socket::INET;
use File::Path qw(make_path);
use Fcntl qw(:flock);
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);

my $python = '/usr/bin/python3';

sub _start {
    my ($class, $t, $name, $script, @args) = @_;

    my $dir = $t->prefix . "/$name";
    make_path($dir);

    my $self = bless { t => $t, name => $name, dir => $dir }, $class;

    $t->spawn($name, $python, $t->repo . "/t/sim/$script",
        '--dir', $dir, '--port', 0, @args);

    $self->{port} = $t->wait_file("$dir/ready", 20)
        or die "$name did not start: " . _slurp($t->prefix . "/$name.log");
    chomp $self->{port};

    return $self;
}

# the Lookout for Vision simulator; its keys file is shared with the
# metadata simulators, so that only issued keys are accepted

sub lfv {
    my ($class, $t, %o) = @_;

    my $keys = $o{keys_file} || $t->prefix . '/keys.json';
    _write_json($keys, $o{keys} || {}) unless -e $keys && !$o{keys};

    my $self = $class->_start($t, 'lfv', 'lfv_sim.py', '--keys', $keys,
        '--region', $o{region} || 'us-east-1', @{ $o{args} || [] });

    $self->{keys} = $keys;
    $self->{ca} = "$self->{dir}/ca.pem";
    $self->{journal} = "$self->{dir}/journal.jsonl";

    return $self;
}

sub imds {
    my ($class, $t, %o) = @_;
    my $self = $class->_start($t, $o{name} || 'imds', 'imds_sim.py',
        '--keys', $t->prefix . '/keys.json', @{ $o{args} || [] });
    return $self;
}

sub container {
    my ($class, $t, %o) = @_;
    my $self = $class->_start($t, $o{name} || 'container', 'container_sim.py',
        '--keys', $t->prefix . '/keys.json', @{ $o{args} || [] });
    return $self;
}

# the STS simulator: AssumeRole / AssumeRoleWithWebIdentity; the key sets it
# issues go into the shared keys file, each with its role "session"

sub sts {
    my ($class, $t, %o) = @_;
    my @args = @{ $o{args} || [] };
    my $keys = $o{keys_file} || $t->prefix . '/keys.json';
    my $self = $class->_start($t, $o{name} || 'sts', 'sts_sim.py', '--keys', $keys, @args);
    $self->{keys} = $keys;
    $self->{ca} = "$self->{dir}/ca.pem" unless grep { $_ eq '--plain' } @args;
    $self->{journal} = "$self->{dir}/journal.jsonl";
    return $self;
}

# the DNS simulator (UDP) for nginx's resolver: A records of the --name
# NAME=ADDR table, NXDOMAIN for other names

sub dns {
    my ($class, $t, %o) = @_;
    my $self = $class->_start($t, $o{name} || 'dns', 'dns_sim.py', @{ $o{args} || [] });
    $self->{journal} = "$self->{dir}/journal.jsonl";
    return $self;
}

# ---------------------------------------------------------------- DynamoDB

# dynalite: a DynamoDB on 127.0.0.1, installed by `make dynalite` under
# build/node (never globally). In memory (memory-level) unless path => NAME:
# LevelDB in prefix/NAME_OF_SIM/NAME (an absolute path is taken as is), so the
# data survive stop_store / start_store. Its port is chosen here (dynalite
# has no --port 0: 0 means its default 4567) and kept across restarts.
#   name => 'dynalite'   the spawned process' name, log prefix/NAME.log
#   create_ms => 0       --createTableMs (also --deleteTableMs, --updateTableMs)
#   args => [...]        more dynalite options (--maxItemSizeKb, --verbose)
#   timeout => 10        seconds start_store waits for the port

my $dynalite_cli = 'build/node/node_modules/dynalite/cli.js';

sub dynalite {
    my ($class, $t, %o) = @_;
    my $name = $o{name} || 'dynalite';
    my $cli = $t->repo . "/$dynalite_cli";
    die "dynalite is not installed ($cli): run make dynalite\n" unless -f $cli;

    my $dir = $t->prefix . "/$name";
    make_path($dir);
    my $self = bless { t => $t, name => $name, dir => $dir, cli => $cli,
        timeout => $o{timeout} || 10 }, $class;
    if (defined $o{path}) {
        $self->{path} = $o{path} =~ m{^/} ? $o{path} : "$dir/$o{path}";
        make_path($self->{path});
    }
    my $ms = $o{create_ms} // 0;
    $self->{args} = [ '--createTableMs', $ms, '--deleteTableMs', $ms, '--updateTableMs', $ms,
        @{ $o{args} || [] } ];

    # a port another process took between the choice and the bind: another one
    for my $try (0 .. 4) {
        $self->{port} = $t->port($try ? "$name-$try" : $name);
        $self->{url} = "http://127.0.0.1:$self->{port}";
        my $mark = (-s $t->prefix . "/$name.log") // 0;
        last if eval { $self->start_store; 1 };
        my $err = $@;
        die $err if $try == 4 || substr(_slurp($t->prefix . "/$name.log"), $mark) !~ /EADDRINUSE/;
    }
    return $self;
}

# (re)start dynalite on its port; returns once the port accepts connections
# (dies with its log when it exits first or after `timeout` s)

sub start_store {
    my ($self) = @_;
    my $t = $self->{t};
    die "$self->{name}: already running\n" if $t->_spawn_alive($self->{name});
    $t->spawn($self->{name}, 'node', $self->{cli}, '--host', '127.0.0.1',
        '--port', $self->{port}, ($self->{path} ? ('--path', $self->{path}) : ()),
        @{ $self->{args} });
    my $deadline = time + $self->{timeout};
    until ($t->wait_port($self->{port}, 0.05)) {
        my $why;
        if (!$t->_spawn_alive($self->{name})) {
            $why = 'exited';
        } elsif (time > $deadline) {
            $why = "not listening after $self->{timeout} s";
        } else {
            next;
        }
        $t->kill_spawned($self->{name});
        die "$self->{name} $why (port $self->{port}):\n"
            . _slurp($t->prefix . "/$self->{name}.log");
    }
    return $self;
}

# SIGTERM (then KILL after 5 s); the port is closed when it returns.
# In-memory data are lost; with path => they are in the LevelDB directory.

sub stop_store {
    my ($self) = @_;
    return $self->{t}->kill_spawned($self->{name});
}

sub store_running { $_[0]{t}->_spawn_alive($_[0]{name}) }

# one DynamoDB JSON 1.0 request (POST /, X-Amz-Target DynamoDB_20120810.TARGET)
# with an Authorization that looks like SigV4 (dynalite checks its form,
# not the signature). Returns (decoded answer or undef, status, the
# LFV::Test::http response) or, in scalar context, the answer.
#   timeout => 5, port => (another port), headers => [ NAME => VALUE, ... ]
#   (replace the headers of that name; VALUE undef: leave it out)

sub call {
    my ($self, $target, $req, %o) = @_;
    my ($body, $status, $r) = $self->call_raw($target,
        JSON::PP->new->canonical->encode($req // {}), %o);
    my $answer = defined $body && length $body
        ? eval { decode_json($body) } : undef;
    return wantarray ? ($answer, $status, $r) : $answer;
}

# the same with the request body as it is (bytes, not encoded here);
# returns (the answer's body as it came, status, the LFV::Test::http
# response) or, in scalar context, the body

sub call_raw {
    my ($self, $target, $body, %o) = @_;
    my $port = $o{port} || $self->{port};
    my $now = time;
    my $amz_date = strftime('%Y%m%dT%H%M%SZ', gmtime $now);
    my $auth = sprintf('AWS4-HMAC-SHA256 Credential=AKIDLFVTESTDYNAMODB0/%s/us-east-1/dynamodb/'
        . 'aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%s',
        substr($amz_date, 0, 8), '0' x 64);
    my @h = (Host => "127.0.0.1:$port", 'Content-Type' => 'application/x-amz-json-1.0',
        'X-Amz-Target' => "DynamoDB_20120810.$target", 'X-Amz-Date' => $amz_date,
        Authorization => $auth);
    my @more = @{ $o{headers} || [] };
    for (my $i = 0; $i < @more; $i += 2) {
        my $name = lc $more[$i];
        @h = map { lc $h[ 2 * $_ ] eq $name ? () : @h[ 2 * $_, 2 * $_ + 1 ] } 0 .. @h / 2 - 1;
    }
    for (my $i = 0; $i < @more; $i += 2) {
        push @h, @more[ $i, $i + 1 ] if defined $more[ $i + 1 ];
    }
    my $r = $self->{t}->http(port => $port, method => 'POST', path => '/',
        timeout => $o{timeout} // 5, body => $body // '', headers => \@h);
    return wantarray ? ($r->{body}, $r->{status}, $r) : $r->{body};
}

# the feature's table, as docs/several-proxies.md creates it: pk (HASH, S),
# sk (RANGE, S), the index "due" (gpk HASH S, due RANGE N, all attributes),
# PAY_PER_REQUEST, TTL on "expires"; waits (10 s at most) until it and its
# index are ACTIVE and returns its
# DescribeTable "Table". dynalite has no UpdateTimeToLive (400
# UnknownOperationException): then {ttl} is 0 and the table has no TTL.

sub create_table {
    my ($self, $table, %o) = @_;
    my ($a, $st) = $self->call(CreateTable => {
        TableName => $table,
        KeySchema => [ { AttributeName => 'pk', KeyType => 'HASH' },
                       { AttributeName => 'sk', KeyType => 'RANGE' } ],
        AttributeDefinitions => [ { AttributeName => 'pk', AttributeType => 'S' },
                                  { AttributeName => 'sk', AttributeType => 'S' },
                                  { AttributeName => 'gpk', AttributeType => 'S' },
                                  { AttributeName => 'due', AttributeType => 'N' } ],
        GlobalSecondaryIndexes => [ {
            IndexName => 'due',
            KeySchema => [ { AttributeName => 'gpk', KeyType => 'HASH' },
                           { AttributeName => 'due', KeyType => 'RANGE' } ],
            Projection => { ProjectionType => 'ALL' } } ],
        BillingMode => 'PAY_PER_REQUEST',
    });
    die "CreateTable $table: " . ($st // 'no answer') . ' ' . encode_json($a // {}) . "\n"
        unless ($st // 0) == 200;
    my $deadline = time + ($o{timeout} || 10);
    my $desc;
    while (1) {
        ($a, $st) = $self->call(DescribeTable => { TableName => $table });
        $desc = $a->{Table} if ($st // 0) == 200;
        last if $desc && ($desc->{TableStatus} // '') eq 'ACTIVE'
            && !grep { ($_->{IndexStatus} // '') ne 'ACTIVE' }
                @{ $desc->{GlobalSecondaryIndexes} || [] };
        die "DescribeTable $table: not ACTIVE after " . ($o{timeout} || 10) . " s\n"
            if time > $deadline;
        sleep 0.05;
    }
    ($a, $st) = $self->call(UpdateTimeToLive => { TableName => $table,
        TimeToLiveSpecification => { AttributeName => 'expires', Enabled => JSON::PP::true } });
    if (($st // 0) == 200) {
        $self->{ttl} = 1;
    } elsif (($st // 0) == 400 && ($a->{__type} // '') =~ /#UnknownOperationException$/) {
        $self->{ttl} = 0;
    } else {
        die "UpdateTimeToLive $table: " . ($st // 'no answer') . ' ' . encode_json($a // {}) . "\n";
    }
    return $desc;
}

# the fault proxy (t/sim/ddb_proxy.py) in front of upstream => a dynalite
# object or a URL; its own {port} and {url}, call() and create_table() go
# through it, control() steers it, journal() reads what it saw

sub ddb_proxy {
    my ($class, $t, %o) = @_;
    my $up = ref $o{upstream} ? $o{upstream}{url} : $o{upstream}
        or die "ddb_proxy: upstream => \$dynalite (or a URL) needed\n";
    my $self = $class->_start($t, $o{name} || 'ddb_proxy', 'ddb_proxy.py',
        '--upstream', $up, @{ $o{args} || [] });
    $self->{url} = "http://127.0.0.1:$self->{port}";
    $self->{upstream} = $up;
    $self->{journal} = "$self->{dir}/journal.jsonl";
    return $self;
}

sub set_keys {
    my ($self, $keys) = @_;
    my $lock = _lock($self->{keys});
    _write_json($self->{keys}, $keys);
}

# merge { AKID => { secret => ..., token => ..., expires => ... } } into the keys file

sub add_keys {
    my ($self, $add) = @_;
    my $lock = _lock($self->{keys});
    my $keys = eval { decode_json(_slurp($self->{keys}) || '{}') } || {};
    @$keys{ keys %$add } = values %$add;
    _write_json($self->{keys}, $keys);
}

sub _lock {
    my ($path) = @_;
    open my $fh, '>>', "$path.lock" or die "$path.lock: $!";
    flock($fh, LOCK_EX) or die "flock $path.lock: $!";
    return $fh;             # unlocked when it goes out of scope
}

# every request the upstream saw, oldest first

sub journal {
    my ($self) = @_;
    open my $fh, '<', $self->{journal} or return ();
    my @e = map { decode_json($_) } grep { /\S/ } <$fh>;
    return @e;
}

# control endpoints of the simulators: /_sim/<what>

sub control {
    my ($self, $method, $what, $body) = @_;
    my $json = defined $body ? encode_json($body) : '';
    my $r = $self->{t}->http(port => $self->{port}, method => $method,
        path => "/_sim/$what", body => $json,
        headers => [ 'Content-Type' => 'application/json' ]);
    return eval { decode_json($r->{body}) } // $r->{body};
}

sub _write_json {
    my ($path, $data) = @_;
    open my $fh, '>', "$path.tmp" or die "$path.tmp: $!";
    print $fh encode_json($data);
    close $fh;
    rename "$path.tmp", $path or die "$path: $!";
}

sub _slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh>;
}

1;
