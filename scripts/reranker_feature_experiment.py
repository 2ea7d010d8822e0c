"""Candidate reranker features, measured before any is added (issue 14): grouped 5-fold CV on both dev splits.

The shipped features (nectarine/retrieve/rerank.py) against the same plus one or more candidates, the
pointwise logistic model at C=0.1 as shipped, nDCG@10 of the reranked pool paired per question:

- ``sentence_coverage``: the most of the question's term weight (IDF) one sentence of the passage holds;
- ``bigram``: share of the question's adjacent term pairs found adjacent in the passage;
- ``prev_user_cov``, ``prev_answer_cov``, ``first_turn_cov``: the same coverage for the previous user turn,
  the previous answer and the conversation's first turn;
- ``new_terms_cov``: coverage of the question's terms that the last exchange did not use;
- ``prev_answer_page``: the passage is on the page whose passage best covers the previous answer.

    .venv/bin/python scripts/reranker_feature_experiment.py
"""
import sys, re, math, numpy as np
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / 'scripts'))
import train_reranker as T
from rich.progress import track
from nectarine import Nectarine
from nectarine.eval.datasets import load_dataset
from nectarine.index.lexical import lexical_tokens
from nectarine.retrieve.rerank import features
from nectarine.types import Filters
from nectarine.eval.metrics import paired_bootstrap
SENT = re.compile(r"(?<=[.!?])\s+|\n+")
def _cov(w, toks):
    tot = sum(w.values())
    return sum(v for t, v in w.items() if t in toks) / tot if tot > 0 else 0.0

def extra(pool, idf, history=None):
    users = [m["content"] for m in (history or []) if m.get("role") == "user"]
    answers = [m["content"] for m in (history or []) if m.get("role") == "assistant"]
    pu = list(dict.fromkeys(lexical_tokens(users[-1]))) if users else []
    pa = list(dict.fromkeys(lexical_tokens(answers[-1]))) if answers else []
    first = list(dict.fromkeys(lexical_tokens(users[0]))) if users else []
    wu = idf(pu) if pu else {}; wa = idf(pa) if pa else {}; wf = idf(first) if first else {}
    terms = list(dict.fromkeys(lexical_tokens(pool.query)))
    w = idf(terms) if terms else {}
    tot = sum(w.values()) or 1.0
    qpairs = set(zip(terms, terms[1:]))  # adjacent in the question (stop words removed)
    rows = []
    for text in pool.texts:
        best = 0.0
        for s in SENT.split(text):
            toks = set(lexical_tokens(s))
            if toks:
                best = max(best, sum(v for t, v in w.items() if t in toks) / tot)
        ptoks = lexical_tokens(text)
        pairs = set(zip(ptoks, ptoks[1:]))
        bi = len(qpairs & pairs) / len(qpairs) if qpairs else 0.0
        pt = set(ptoks)
        qset = set(terms); new = {t: v for t, v in w.items() if t not in set(pu) | set(pa)}
        rows.append([best, bi, _cov(wu, pt), _cov(wa, pt), _cov(wf, pt), _cov(new, pt) if new else 0.0])
    R = np.array(rows, dtype=np.float32).reshape(len(pool.texts), 6)
    if len(R):
        top = int(np.argmax(R[:, 3])); R = np.hstack([R, np.array([[float(d == pool.doc_ids[top]) and float(bool(pa))] for d in pool.doc_ids], dtype=np.float32)])
    else:
        R = np.zeros((0, 7), dtype=np.float32)
    return R

def collect(path, index, split="dev"):
    ds = load_dataset(path); nec = Nectarine.load(index); nec.retriever.settings.rerank = False
    out = []
    for q in track([q for q in ds.queries_for(split) if ds.gold(split, q.id)], description=ds.name):
        gold = ds.gold(split, q.id)
        pool = nec.retriever.candidate_pool(q.text, filters=Filters(version=q.metadata.get("context_version")), history=q.history or None)
        if pool is None: continue
        X = features(pool, nec.reader.lexical.idf); E = extra(pool, nec.reader.lexical.idf, q.history)
        cg = [sorted(set(c.section_ids) & gold.keys()) for c in pool.extra["chunks"]]
        grp = f"{ds.name}:{q.id.split('<::>')[0]}"
        out.append((ds.name, q.id, grp, X, E, cg, gold, q.is_follow_up))
    return out
data = collect("eval/nectain", "indexes/nectain") + collect("../shared/datasets/mtrag-govt", "indexes/mtrag-govt")
from sklearn.model_selection import GroupKFold
groups = np.array([d[2] for d in data])
folds = list(GroupKFold(n_splits=5).split(np.zeros(len(data)), groups=groups))
nsets = {}
for ds in {d[0] for d in data}: nsets[ds] = sum(1 for d in data if d[0]==ds)
def rows(idx, use):
    Xs, ys, ws = [], [], []
    for i in idx:
        name, _, _, X, E, cg, gold, _ = data[i]
        Z = X if use is None else np.hstack([X, E[:, use]])
        y = np.array([1.0 if c else 0.0 for c in cg]); wt = np.full(len(y), 1.0/(len(y)*nsets[name]))
        seen=set()
        for j,c in enumerate(cg):
            if c and set(c) <= seen: wt[j]=0
            seen |= set(c)
        Xs.append(Z); ys.append(y); ws.append(wt)
    w = np.concatenate(ws); return np.vstack(Xs), np.concatenate(ys), w / w.mean()
def cv(use, C=0.1):
    out = {}
    for tr, te in folds:
        X, y, w = rows(tr, use); m = T.fit_lr(X, y, w, C)
        for i in te:
            name, qid, _, Xq, E, cg, gold, _ = data[i]
            Z = Xq if use is None else np.hstack([Xq, E[:, use]])
            out[(name, qid)] = T.ndcg(np.argsort(-m.score(Z), kind="stable"), cg, gold)
    return out
base = cv(None)
for label, use in (("+sentence_coverage", [0]), ("+bigram", [1]), ("+both", [0, 1]), ("+prev_user_cov", [2]), ("+prev_answer_cov", [3]), ("+first_turn_cov", [4]), ("+new_terms_cov", [5]), ("+prev_answer_page", [6]), ("+all hist", [2,3,4,5,6]), ("+sent+all hist", [0,2,3,4,5,6])):
    r = cv(use)
    for ds in ("nectain", "mtrag-govt"):
        for fu in (None, True):
            keys = [(d[0], d[1]) for d in data if d[0]==ds and (fu is None or d[7]==fu)]
            b = {k: base[k] for k in keys}; n = {k: r[k] for k in keys}
            print(label, ds, "follow" if fu else "all", "%.3f -> %.3f" % (np.mean(list(b.values())), np.mean(list(n.values()))), "%+.3f [%+.3f, %+.3f]" % paired_bootstrap(b, n))
