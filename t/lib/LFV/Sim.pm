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
