package LFV::CredsDriver;

# t/unit/creds_driver.c, built for a test into its own temporary
# directory (with ASan and UBSan where the compiler has them), and run on
# one input or on a whole table in one process:
#
#   my $d = LFV::CredsDriver->new;          # fails and exits without a build
#   my $out = $d->run('creds', $input);      # dies on a sanitizer report
#   $d->check_all('http', [ name, input, expected string or regexp ], ...);

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use FindBin;

my $root = "$FindBin::Bin/..";

sub new {
    my ($class) = @_;

    my $src = $ENV{NGINX_SRC} || '/usr/share/nginx/src';
    my $objs = $ENV{LFV_BUILD} || "$root/build/objs";

    # the test target builds the module first: a missing build is a
    # failure, not a skip

    unless (-f "$objs/ngx_auto_config.h") {
        fail("$objs/ngx_auto_config.h exists (run make first)");
        done_testing();
        exit;
    }

    my $self = bless { dir => tempdir(CLEANUP => 1) }, $class;
    $self->{driver} = $self->_build($src, $objs);

    return $self;
}

sub _build {
    my ($self, $src, $objs) = @_;
    my $dir = $self->{dir};

    my @inc = map { ('-I', $_) } ("$src/src/core", "$src/src/event",
        "$src/src/event/modules", "$src/src/os/unix", $objs,
        "$root/ngx_lfv_module", "$root/t/unit");

    my @src = ("$root/t/unit/creds_driver.c",
        map({ "$root/ngx_lfv_module/ngx_http_lfv_$_.c" }
            qw(fetch_response creds_doc sts_doc time json)),
        "$root/t/unit/ngx_stubs.c", "$root/t/unit/ngx_lfv_driver.c");

    my $cc = $ENV{CC} || 'cc';
    my @flags = qw(-pipe -O1 -g -W -Wall -Wpointer-arith
        -Wno-unused-parameter -Werror);
    my @san = ('-fsanitize=address,undefined', '-fno-sanitize-recover=all',
        '-fno-omit-frame-pointer');

    # with sanitizers where the compiler has them

    for my $s (\@san, []) {
        my $out = "$dir/creds_driver";

        open my $save, '>&', \*STDERR or die "dup: $!";
        open STDERR, '>', "$dir/cc.log" or die "$dir/cc.log: $!";
        my $rc = system($cc, @flags, @$s, @inc, @src, '-o', $out,
            '-lcrypto');
        open STDERR, '>&', $save or die "dup: $!";

        if ($rc != 0) {
            diag(slurp("$dir/cc.log")) unless @$s;
            next;
        }

        note(@$s ? 'driver built with ASan and UBSan'
            : 'driver built without sanitizers');
        return $out;
    }

    BAIL_OUT('cannot build t/unit/creds_driver.c');
}

sub run {
    my ($self, $mode, $input) = @_;
    my $dir = $self->{dir};

    my $in = "$dir/input";
    open my $fh, '>:raw', $in or die "$in: $!";
    print $fh "$mode\n", $input;
    close $fh;

    local $ENV{ASAN_OPTIONS} = 'detect_leaks=0:abort_on_error=0';
    local $ENV{UBSAN_OPTIONS} = 'halt_on_error=1:print_stacktrace=1';

    my $out = `$self->{driver} < $in 2> $dir/stderr`;
    my $rc = $?;

    my $stderr = slurp("$dir/stderr");

    die "driver exited with $rc:\n$stderr" if $rc != 0 || $stderr ne '';

    return $out;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or die "$file: $!";
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data;
}

# one driver process for a whole table: "<mode> <length>\n<input>" records

sub check_all {
    my ($self, $mode, @cases) = @_;

    my $input = join '', map { "$mode " . length($_->[1]) . "\n$_->[1]" }
        @cases;

    my $out = eval { $self->run('batch', $input) };

    if (!defined $out) {
        fail("$mode: driver ran");
        diag($@);
        return;
    }

    my @got = split /\n/, $out, -1;
    pop @got if @got && $got[-1] eq '';

    is(scalar @got, scalar @cases, "$mode: one answer per case");

    for my $i (0 .. $#cases) {
        my ($name, $in, $expect) = @{ $cases[$i] };

        $name =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;

        if (ref $expect) {
            like($got[$i] // '', $expect, "$mode: $name");
        } else {
            is($got[$i], $expect, "$mode: $name");
        }
    }
}

1;
