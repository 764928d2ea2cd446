#!/usr/bin/env python3
"""Per-fork summary of alternated JMH A/B runs (the A/B folders under bench/results).

    python3 bench/scripts/fork-medians.py bench/results/<folder>

Reads every `<build>-<round>.json` (JMH `-rf json`) in the folder and prints, per benchmark
method, `impl` parameter and build: the number of forks and the median, mean, min and max of the
per-fork means (ns/op), then the B/op of each file (`-prof gc`'s gc.alloc.rate.norm).
"""
import collections
import glob
import json
import os
import statistics
import sys

folder = sys.argv[1] if len(sys.argv) > 1 else '.'
fork_means = collections.defaultdict(list)
bytes_per_op = collections.defaultdict(list)
for path in sorted(glob.glob(os.path.join(folder, '*-*.json'))):
    build = os.path.basename(path).split('-')[0]
    try:
        rows = json.load(open(path))
    except ValueError:
        continue                          # a run that died before writing its JSON
    for row in rows:
        key = (row['benchmark'].split('.')[-1], row['params'].get('impl', ''), build)
        for fork in row['primaryMetric']['rawData']:
            fork_means[key].append(statistics.mean(fork))
        alloc = row.get('secondaryMetrics', {}).get('gc.alloc.rate.norm')
        if alloc:
            bytes_per_op[key].append(alloc['score'])
for key in sorted(fork_means):
    v = fork_means[key]
    print('%-24s %-15s %-3s forks %d  median %8.2f  mean %8.2f  min %8.2f max %8.2f  B/op %s' % (
        key[0], key[1], key[2], len(v), statistics.median(v), statistics.mean(v), min(v), max(v),
        ' '.join('%.1f' % x for x in bytes_per_op[key])))
