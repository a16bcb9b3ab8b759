package LFV::Markdown;

# What the documentation tests read of a Markdown page:
#
#   my @lines = LFV::Markdown::prose($text);   # outside fenced code blocks
#   my $anchors = LFV::Markdown::anchors($text);   # { slug => 1 }, as GitHub makes them

use strict;
use warnings;

sub prose {
    my ($text) = @_;
    my ($fence, @out) = (0);
    for my $line (split /\n/, $text) {
        if ($line =~ /^\s*```/) { $fence = !$fence; next }
        push @out, $line unless $fence;
    }
    return @out;
}

sub anchors {
    my ($text) = @_;
    my (%seen, %anchors);
    for my $line (prose($text)) {
        next unless $line =~ /^#{1,6}\s+(.*?)\s*#*\s*$/;
        my $slug = lc $1;
        $slug =~ s/[^\w\- ]//g;
        $slug =~ s/ /-/g;
        my $n = $seen{$slug}++;
        $anchors{$n ? "$slug-$n" : $slug} = 1;
    }
    return \%anchors;
}

1;
