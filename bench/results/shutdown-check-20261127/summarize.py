import json,glob,statistics,collections
d=collections.defaultdict(list); a=collections.defaultdict(list)
for f in sorted(glob.glob('./*-*.json')):
    b=f.split('/')[-1].split('-')[0]
    try: rows=json.load(open(f))
    except Exception: continue
    for r in rows:
        key=(r['benchmark'].split('.')[-1],b)
        for fork in r['primaryMetric']['rawData']:
            d[key].append(statistics.mean(fork))
        sm=r.get('secondaryMetrics',{}).get('gc.alloc.rate.norm')
        if sm: a[key].append(sm['score'])
for k in sorted(d):
    v=d[k]; print('%-18s %-3s forks %d  median %.2f  mean %.2f  min %.2f max %.2f  B/op %s'%(k[0],k[1],len(v),statistics.median(v),statistics.mean(v),min(v),max(v), ' '.join('%.1f'%x for x in a[k])))
