import json,glob,statistics,collections,sys
d=collections.defaultdict(list); a=collections.defaultdict(list)
for f in sorted(glob.glob((sys.argv[1] if len(sys.argv) > 1 else '.') + '/*.json')):
    b=f.split('/')[-1].split('-')[0]
    try: rows=json.load(open(f))
    except Exception: continue
    for r in rows:
        key=(r['benchmark'].split('.')[-1], r['params'].get('impl',''), b)
        for fork in r['primaryMetric']['rawData']:
            d[key].append(statistics.mean(fork))
        sm=r.get('secondaryMetrics',{}).get('gc.alloc.rate.norm')
        if sm: a[key].append(sm['score'])
for k in sorted(d):
    v=d[k]; print('%-24s %-9s %-3s forks %d  median %.2f  mean %.2f  min %.2f max %.2f  B/op %s'%(k[0],k[1],k[2],len(v),statistics.median(v),statistics.mean(v),min(v),max(v), ' '.join('%.1f'%x for x in a[k])))
