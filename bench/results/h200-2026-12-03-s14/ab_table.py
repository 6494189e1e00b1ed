import json,sys,re,collections
rows=collections.OrderedDict()
for f in sys.argv[1:]:
    for x in json.load(open(f))['benchmarks']:
        if x.get('error_occurred') or '/ptxfmha' not in x['name']: continue
        n=x['name'].split('/ptxfmha')[0]
        m=re.match(r'(.*?)(/v=(.*))?$',n); cell=m.group(1); v=m.group(3) or 'bf16'
        rows.setdefault(cell,{})[v]=x
print('%-45s %8s %6s %8s %6s %8s %6s %7s %7s %s'%('cell','bf16','%ceil','e4m3wg','%ceil','e4m3old','%ceil','wg/bf16','wg/old','rows'))
for c,v in rows.items():
    b=v.get('bf16'); w=v.get('e4m3'); o=[v[k] for k in v if k.startswith('e4m3+k=')]
    o=o[0] if o else None
    f=lambda x:(x['median_us'],x.get('pct_ceiling',0)) if x else (float('nan'),0)
    bt,bp=f(b); wt,wp=f(w); ot,op=f(o)
    lab=lambda x: x['label'].split(';')[0].replace('fmha_decode_','') if x else '-'
    print('%-45s %8.1f %6.1f %8.1f %6.1f %8.1f %6.1f %7.2f %7.2f %s/%s s%d'%(c.replace('decode/',''),bt,bp,wt,wp,ot,op,bt/wt,ot/wt,lab(w),lab(o),w['splits'] if w else 0))
