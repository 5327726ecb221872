import json, collections
G={"chat","search","email","note","code","social","doc"}
def load(files, lang):
    rows=[]; lab=genre=None; seen=set()
    for f in files:
        for l in open(f, encoding='utf-8'):
            l=l.rstrip('\n').strip()
            if not l: continue
            if l.startswith('@'):
                lab,genre=l[1:].split(); assert genre in G,(genre); continue
            label='none' if lab in('none','hard') else lab
            assert label in ('purchase','travel','health','none')
            if l in seen: print('DUP',lang,l); continue
            seen.add(l)
            row={"text":l,"label":label,"lang":lang,"genre":genre}
            if label=='none': row["kind"]="hard_negative" if lab=='hard' else "everyday"
            rows.append((row,lab))
    return rows
out={}
for lang in ('en','zh'):
    rows=load([f'{lang}_pos.txt',f'{lang}_neg.txt'],lang)
    with open(f'../{lang}.jsonl','w',encoding='utf-8') as fh:
        for r,_ in rows: fh.write(json.dumps(r,ensure_ascii=False)+'\n')
    out[lang]=rows
# validate
for lang in ('en','zh'):
    rs=[json.loads(l) for l in open(f'../{lang}.jsonl',encoding='utf-8')]
    assert all(set(r)-{'kind'}=={'text','label','lang','genre'} for r in rs)
    print(lang,len(rs),collections.Counter(r['label'] for r in rs),collections.Counter(r['genre'] for r in rs))
    print(' subsets',collections.Counter(k for _,k in out[lang]))
    print(' label x genre',sorted(collections.Counter((r['label'],r['genre']) for r in rs).items()))
